package model

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
)

// writeStateFile writes a safetensors state file whose (h, i, j) element
// is f(l, h, i, j).
func writeStateFile(t *testing.T, L, H, N int, f func(l, h, i, j int) float32) string {
	hdr := map[string]any{}
	var data []byte
	for l := 0; l < L; l++ {
		v := make([]float32, H*N*N)
		for h := 0; h < H; h++ {
			for i := 0; i < N; i++ {
				for j := 0; j < N; j++ {
					v[(h*N+i)*N+j] = f(l, h, i, j)
				}
			}
		}
		start := len(data)
		data = append(data, tensor.Float32Bytes(v)...)
		hdr[fmt.Sprintf("blocks.%d.att.time_state", l)] = map[string]any{"dtype": "F32", "shape": []int{H, N, N}, "data_offsets": []int{start, len(data)}}
	}
	js, _ := json.Marshal(hdr)
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	out = append(append(out, js...), data...)
	p := filepath.Join(t.TempDir(), "state.safetensors")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadStateFile(t *testing.T) {
	val := func(l, h, i, j int) float32 { return float32(l*1000000 + h*10000 + i*100 + j) }
	for _, name := range []string{"6v0-1m", "7v0-834K"} {
		m := open(t, testutil.Path(t, "models", "tiny", "tiny-rwkv-"+name+"-FP32.bin"), Options{})
		c := m.Cfg
		st, err := m.LoadStateFile(writeStateFile(t, c.Layers, c.Heads, c.HeadSize, val))
		if err != nil {
			t.Fatal(err)
		}
		N := c.HeadSize
		for l := 0; l < c.Layers; l++ {
			S := st.wkv(l)
			for h := 0; h < c.Heads; h++ {
				// file (h, value i, key j); v7 keeps [value][key], v6 [key][value].
				i, j := 1, 2
				got := S[(h*N+i)*N+j]
				want := val(l, h, i, j)
				if c.Major() == 6 {
					want = val(l, h, j, i)
				}
				if got != want {
					t.Fatalf("%s layer %d head %d: S[%d][%d] = %g, want %g", name, l, h, i, j, got, want)
				}
			}
			for _, v := range st.attX(l) {
				if v != 0 {
					t.Fatal("token shift not zero")
				}
			}
		}
		bad := writeStateFile(t, c.Layers-1, c.Heads, c.HeadSize, val)
		if _, err := m.LoadStateFile(bad); err == nil || !strings.Contains(err.Error(), "layers") {
			t.Fatalf("wrong layer count: %v", err)
		}
	}
}
