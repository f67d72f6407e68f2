package synth

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/model"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// TestSmallModels writes a small model of every architecture and type and
// checks that it loads with the asked shape and gives finite logits.
func TestSmallModels(t *testing.T) {
	dir := t.TempDir()
	for arch := 4; arch <= 7; arch++ {
		for _, dt := range []tensor.DType{tensor.F16, tensor.Q8_0, tensor.Q4_0, tensor.Q5_1} {
			s := Spec{Arch: arch, Layers: 2, Embd: 128, Vocab: 300, HeadSize: 32, Type: dt}
			path := filepath.Join(dir, s.Name())
			if err := Write(path, s); err != nil {
				t.Fatal(err)
			}
			m, err := model.Open(path, model.Options{})
			if err != nil {
				t.Fatalf("v%d %s: %v", arch, dt, err)
			}
			if m.Cfg.Major() != arch || m.Cfg.Layers != 2 || m.Cfg.Embd != 128 || m.Cfg.Vocab != 300 {
				t.Fatalf("v%d %s: loaded as %+v", arch, dt, m.Cfg)
			}
			if m.DTypes()[dt] == 0 {
				t.Fatalf("v%d %s: no matrices of that type: %v", arch, dt, m.DTypes())
			}
			logits := make([]float32, 300)
			if err := m.Forward(m.NewState(), []int{1, 2, 3, 4, 5}, logits); err != nil {
				t.Fatal(err)
			}
			for _, l := range logits {
				if math.IsNaN(float64(l)) || math.IsInf(float64(l), 0) {
					t.Fatalf("v%d %s: non-finite logit", arch, dt)
				}
			}
			m.Close()
		}
	}
}

func TestParse(t *testing.T) {
	s, err := Parse("v7-0.4b", tensor.Q8_0)
	if err != nil || s.Arch != 7 || s.Layers != 24 || s.Embd != 1024 {
		t.Fatalf("%+v %v", s, err)
	}
	for _, bad := range []string{"v8-0.1b", "v7-3b", "x", "v7"} {
		if _, err := Parse(bad, tensor.F16); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
