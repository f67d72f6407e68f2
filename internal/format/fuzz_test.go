package format

import (
	"archive/zip"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// Seeds come from the shared data when it is there; without it the fuzz
// targets still run on the hand-made seeds.

func sharedGlob(pattern string) []string {
	dir, ok := sharedDir()
	if !ok {
		return nil
	}
	m, _ := filepath.Glob(filepath.Join(dir, pattern))
	return m
}

func fuzzCheck(t *testing.T, name string, data []byte) {
	f, err := Parse(name, data)
	if err != nil {
		checkErr(t, err, name)
		return
	}
	checkConsistent(t, f, data)
	for _, tt := range f.Tensors {
		if !within(tt.Data, data) {
			t.Fatalf("%s: data of %s is not in the input", name, tt.Name)
		}
	}
}

func FuzzOpenBin(f *testing.F) {
	q := make([]byte, 2*22)
	f.Add(ggmlFile(101, 0,
		ggmlTensor{"emb.weight", 0, []uint32{2, 3}, make([]byte, 24)},
		ggmlTensor{"blocks.0.att.key.weight", 1, []uint32{2, 2}, make([]byte, 8)},
		ggmlTensor{"blocks.0.att.value.weight", 7, []uint32{2, 32}, q},
	))
	f.Add(ggmlFile(100, 1, ggmlTensor{"x", 1, []uint32{1, 1, 1, 4}, make([]byte, 8)}))
	// Miniatures of the tiny models: their header, tensor names, types and
	// ranks, with every dimension cut down (small inputs fuzz and minimise
	// much faster than the megabyte files).
	for _, path := range sharedGlob("models/tiny/tiny-rwkv-*.bin") {
		buf, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		pf, err := Parse(path, buf)
		if err != nil {
			f.Fatalf("seed %s: %v", path, err)
		}
		f.Add(miniBin(pf, buf, 24))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzCheck(t, "fuzz.bin", data) })
}

// miniBin rewrites the first n tensors of an rwkv.cpp file with every
// dimension cut to 2 (32 along rows of quantised types), keeping the header.
func miniBin(pf *File, buf []byte, n int) []byte {
	ids := map[tensor.DType]uint32{tensor.F32: 0, tensor.F16: 1, tensor.Q4_0: 2, tensor.Q4_1: 3, tensor.Q5_0: 7, tensor.Q5_1: 8, tensor.Q8_0: 9}
	var ts []ggmlTensor
	for _, t := range pf.Tensors[:min(n, len(pf.Tensors))] {
		shape := make([]uint32, len(t.Shape))
		for i, d := range t.Shape {
			shape[i] = uint32(min(d, 2))
		}
		shape[len(shape)-1] = uint32(min(t.Shape[len(shape)-1], t.DType.BlockElems()*2))
		ne := 1
		for _, d := range shape {
			ne *= int(d)
		}
		nb, _ := t.DType.Bytes(int64(ne))
		ts = append(ts, ggmlTensor{t.Name, ids[t.DType], shape, t.Data[:nb]})
	}
	out := ggmlFile(101, 0, ts...)
	copy(out[4:24], buf[4:24])
	return out
}

func FuzzOpenSafetensors(f *testing.F) {
	f.Add(safetensorsFile(`{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[24,28]},"c":{"dtype":"F16","shape":[],"data_offsets":[28,30]}}`, make([]byte, 30)))
	f.Add(safetensorsFile(`{}`, nil))
	// Miniatures of the fixtures: their first tensors, cut down.
	for _, path := range sharedGlob("fixtures/*/*.safetensors") {
		buf, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		sf, err := Parse(path, buf)
		if err != nil {
			f.Fatalf("seed %s: %v", path, err)
		}
		f.Add(smallSafetensors(sf, 12))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzCheck(t, "fuzz.safetensors", data) })
}

// smallSafetensors writes the first n tensors of sf, every dimension cut to
// at most 2, as a new file (small inputs fuzz and minimise much faster).
func smallSafetensors(sf *File, n int) []byte {
	var hdr strings.Builder
	var data []byte
	hdr.WriteString(`{"__metadata__":{`)
	first := true
	for k, v := range sf.Meta {
		if !first {
			hdr.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&hdr, "%q:%q", k, v)
	}
	hdr.WriteString("}")
	for _, t := range sf.Tensors[:min(n, len(sf.Tensors))] {
		shape := make([]int, len(t.Shape))
		ne := 1
		for i, d := range t.Shape {
			shape[i] = min(d, 2)
			ne *= shape[i]
		}
		nb := ne * t.DType.BlockBytes()
		fmt.Fprintf(&hdr, `,%q:{"dtype":%q,"shape":%s,"data_offsets":[%d,%d]}`,
			t.Name, t.DType, strings.ReplaceAll(fmt.Sprint(shape), " ", ","), len(data), len(data)+nb)
		data = append(data, t.Data[:nb]...)
	}
	hdr.WriteString("}")
	return safetensorsFile(hdr.String(), data)
}

// FuzzOpenPth fuzzes the pickle interpreter and the tensor views it builds:
// the input is data.pkl; storages come from a fixture archive, and any other
// short key resolves to a 256-byte buffer.
func FuzzOpenPth(f *testing.F) {
	spare := tensor.Float32Bytes(make([]float32, 64))
	storages := map[string][]byte{}
	// The real data.pkl of the smallest fixtures (larger ones only repeat
	// the same patterns and slow down minimisation).
	for _, path := range sharedGlob("fixtures/4v0-*/*.pth") {
		pkl, st, err := readPthEntries(path, true)
		if err != nil {
			f.Fatalf("seed %s: %v", path, err)
		}
		for k, v := range st {
			storages[k] = v
		}
		f.Add(pkl)
	}
	p := new(pk).proto().orderedDict().mark()
	p.str("a").tensor("FloatStorage", "h0", 64, 2, []int{2, 3}, []int{3, 1})
	p.str("t").tensor("FloatStorage", "h0", 64, 0, []int{3, 2}, []int{1, 3})
	p.str("b").global("torch._utils", "_rebuild_parameter").mark()
	p.tensor("BFloat16Storage", "h1", 2, 0, []int{2}, []int{1}).op(0x88).orderedDict().tuple().reduce()
	p.str("h").tensor("HalfStorage", "h2", 8, 7, nil, nil)
	f.Add(p.op('u').stop().Bytes())
	f.Add(new(pk).proto().op('}').str("state_dict").op('}').op('s').stop().Bytes())
	for _, h := range cpythonPickles {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}

	resolve := func(key string) ([]byte, error) {
		if b, ok := storages[key]; ok {
			return b, nil
		}
		if len(key) <= 4 {
			return spare, nil
		}
		return nil, fmt.Errorf("no storage %s", key)
	}
	f.Fuzz(func(t *testing.T, pkl []byte) {
		ts, err := pthTensors(pkl, resolve)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		for _, tt := range ts {
			if err := tt.Check(); err != nil {
				t.Fatalf("inconsistent tensor: %v", err)
			}
		}
	})
}

// readPthEntries returns an archive's data.pkl and, when withData, its
// storages by key.
func readPthEntries(path string, withData bool) ([]byte, map[string][]byte, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, nil, err
	}
	defer zr.Close()
	var pkl []byte
	st := map[string][]byte{}
	for _, e := range zr.File {
		isPkl := strings.HasSuffix(e.Name, "/data.pkl")
		dir, key := filepath.Split(e.Name)
		isData := withData && strings.HasSuffix(dir, "/data/")
		if !isPkl && !isData {
			continue
		}
		rc, err := e.Open()
		if err != nil {
			return nil, nil, err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, nil, err
		}
		if isPkl {
			pkl = b
		} else {
			st[key] = b
		}
	}
	if pkl == nil {
		return nil, nil, fmt.Errorf("%s: no data.pkl", path)
	}
	return pkl, st, nil
}

// Regression inputs found by fuzzing live in testdata/fuzz/<target>/ and run
// with the normal tests. This checks that the derived seeds are valid files.
func TestFuzzSeedsValid(t *testing.T) {
	needShared(t)
	for _, path := range sharedGlob("fixtures/*/*.safetensors") {
		sf, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		small := smallSafetensors(sf, 12)
		sf.Close()
		g, err := Parse("small.safetensors", small)
		if err != nil || len(g.Tensors) == 0 {
			t.Fatalf("%s: derived seed: %v", path, err)
		}
	}
	for _, path := range tinyModels(t) {
		buf := readFile(t, path)
		pf, err := Parse(path, buf)
		if err != nil {
			t.Fatal(err)
		}
		g, err := Parse("mini.bin", miniBin(pf, buf, 24))
		if err != nil || len(g.Tensors) != 24 || g.Meta["n_embed"] != pf.Meta["n_embed"] {
			t.Fatalf("%s: derived seed: %v", path, err)
		}
	}
}
