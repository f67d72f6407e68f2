// Package synth writes RWKV model files with random weights at the shapes
// of real models, for benchmarks: the speed of a forward pass depends on
// the shapes and the weight type, not on the values. Files are in rwkv.cpp
// format (the same layout as ../shared/tools/synth_model.py writes), so a
// peer engine can be timed on the very same file.
package synth

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/rwkv-chat/rwkv-chat/internal/quant"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// Spec is the shape of a synthetic model.
type Spec struct {
	Arch     int // 4, 5 (5.2), 6 or 7
	Layers   int
	Embd     int
	Vocab    int
	HeadSize int
	Type     tensor.DType // type of the large matrices
}

// Presets are the (layers, n_embd) of the released model sizes.
var Presets = map[string][2]int{
	"0.1b": {12, 768},
	"0.4b": {24, 1024},
	"1.5b": {24, 2048},
	"2.9b": {32, 2560},
}

// Parse reads a name such as "v7-0.4b".
func Parse(name string, dt tensor.DType) (Spec, error) {
	arch, size, ok := strings.Cut(strings.ToLower(name), "-")
	p, okp := Presets[size]
	if !ok || !okp || len(arch) != 2 || arch[0] != 'v' || arch[1] < '4' || arch[1] > '7' {
		return Spec{}, fmt.Errorf("unknown synthetic model %q (want v4|v5|v6|v7 - 0.1b|0.4b|1.5b|2.9b, e.g. v7-0.4b)", name)
	}
	return Spec{Arch: int(arch[1] - '0'), Layers: p[0], Embd: p[1], Vocab: 65536, HeadSize: 64, Type: dt}, nil
}

// Name is a file name that identifies the spec.
func (s Spec) Name() string {
	return fmt.Sprintf("synthetic-v%d-L%d-C%d-V%d-%s.bin", s.Arch, s.Layers, s.Embd, s.Vocab, strings.ToLower(s.Type.String()))
}

var ggmlType = map[tensor.DType]uint32{
	tensor.F32: 0, tensor.F16: 1, tensor.Q4_0: 2, tensor.Q4_1: 3, tensor.Q5_0: 7, tensor.Q5_1: 8, tensor.Q8_0: 9,
}

// loraDims7 are RWKV-7's LoRA ranks (RWKV-LM's formulas).
func loraDims7(c int) (w, a, v, g int) {
	r := func(f float64) int { return max(32, int(math.Round(f/32))*32) }
	fc := float64(c)
	return r(1.8 * math.Sqrt(fc)), r(1.8 * math.Sqrt(fc)), r(1.3 * math.Sqrt(fc)), r(0.6 * math.Pow(fc, 0.8))
}

// writer streams tensors in rwkv.cpp format.
type writer struct {
	w   *bufio.Writer
	rng *rand.Rand
	dt  tensor.DType
	err error
	buf []float32
}

func (w *writer) put(name string, shape []int, dt tensor.DType, data []float32) {
	if w.err != nil {
		return
	}
	if dt.Quantized() && shape[len(shape)-1]%32 != 0 {
		dt = tensor.F16
	}
	raw, err := quant.Quantize(dt, data)
	if err != nil {
		w.err = fmt.Errorf("%s: %w", name, err)
		return
	}
	hdr := []uint32{uint32(len(shape)), uint32(len(name)), ggmlType[dt]}
	for i := len(shape) - 1; i >= 0; i-- {
		hdr = append(hdr, uint32(shape[i]))
	}
	if err := binary.Write(w.w, binary.LittleEndian, hdr); err != nil {
		w.err = err
		return
	}
	w.w.WriteString(name)
	_, w.err = w.w.Write(raw)
}

func (w *writer) normal(n int, std float64) []float32 {
	if cap(w.buf) < n {
		w.buf = make([]float32, n)
	}
	b := w.buf[:n]
	for i := range b {
		b[i] = float32(w.rng.NormFloat64() * std)
	}
	return b
}

func (w *writer) full(n int, v float32) []float32 {
	b := make([]float32, n)
	for i := range b {
		b[i] = v
	}
	return b
}

// vec writes a per-channel FP32 vector of value base + N(0, std).
func (w *writer) vec(name string, shape []int, base float32, std float64) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	b := make([]float32, n)
	for i := range b {
		b[i] = base + float32(w.rng.NormFloat64()*std)
	}
	w.put(name, shape, tensor.F32, b)
}

// mat writes a weight (out, in) in the model's type with std gain/√in.
func (w *writer) mat(name string, out, in int, gain float64) {
	w.put(name, []int{out, in}, w.dt, w.normal(out*in, gain/math.Sqrt(float64(in))))
}

func (w *writer) ln(prefix string, c int) {
	w.vec(prefix+".weight", []int{c}, 1, 0.05)
	w.vec(prefix+".bias", []int{c}, 0, 0.02)
}

// Write creates the file at path (through a temporary file and a rename).
func Write(path string, s Spec) (err error) {
	if s.Embd%s.HeadSize != 0 || s.Embd%32 != 0 {
		return fmt.Errorf("n_embd %d must be a multiple of 32 and of the head size %d", s.Embd, s.HeadSize)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".synth-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := &writer{w: bufio.NewWriterSize(tmp, 1<<20), rng: rand.New(rand.NewPCG(uint64(s.Layers), uint64(s.Embd))), dt: s.Type}
	fileType := ggmlType[s.Type]
	if err := binary.Write(w.w, binary.LittleEndian, []uint32{0x67676d66, 101, uint32(s.Vocab), uint32(s.Embd), uint32(s.Layers), fileType}); err != nil {
		return err
	}
	c, v, hs := s.Embd, s.Vocab, s.HeadSize
	h := c / hs
	w.put("emb.weight", []int{v, c}, tensor.F16, w.normal(v*c, 0.5))
	for i := 0; i < s.Layers; i++ {
		p := fmt.Sprintf("blocks.%d.", i)
		if i == 0 {
			w.ln(p+"ln0", c)
		}
		w.ln(p+"ln1", c)
		w.ln(p+"ln2", c)
		a, f := p+"att.", p+"ffn."
		switch s.Arch {
		case 4:
			for _, n := range []string{"time_mix_k", "time_mix_v", "time_mix_r"} {
				w.vec(a+n, []int{c}, 0.5, 0.1)
			}
			w.vec(a+"time_decay", []int{c}, -0.5, 0.2) // already −exp(·)
			w.vec(a+"time_first", []int{c}, 0.3, 0.1)
			for _, n := range []string{"key", "value", "receptance"} {
				w.mat(a+n+".weight", c, c, 0.5)
			}
			w.mat(a+"output.weight", c, c, 0.5)
			w.vec(f+"time_mix_k", []int{c}, 0.5, 0.1)
			w.vec(f+"time_mix_r", []int{c}, 0.5, 0.1)
			w.mat(f+"key.weight", 4*c, c, 0.5)
			w.mat(f+"receptance.weight", c, c, 0.5)
			w.mat(f+"value.weight", c, 4*c, 0.5)
		case 5:
			for _, n := range []string{"time_mix_k", "time_mix_v", "time_mix_r", "time_mix_g"} {
				w.vec(a+n, []int{c}, 0.5, 0.1)
			}
			w.vec(a+"time_decay", []int{h, hs, 1}, 0.9, 0.02) // already exp(−exp(·))
			w.vec(a+"time_faaaa", []int{h, hs, 1}, 0.3, 0.1)
			for _, n := range []string{"key", "value", "receptance", "gate"} {
				w.mat(a+n+".weight", c, c, 0.5)
			}
			w.mat(a+"output.weight", c, c, 0.5)
			w.ln(a+"ln_x", c)
			ffn := c * 7 / 2 / 32 * 32
			w.vec(f+"time_mix_k", []int{c}, 0.5, 0.1)
			w.vec(f+"time_mix_r", []int{c}, 0.5, 0.1)
			w.mat(f+"key.weight", ffn, c, 0.5)
			w.mat(f+"receptance.weight", c, c, 0.5)
			w.mat(f+"value.weight", c, ffn, 0.5)
		case 6:
			dm, dd := 32, 64
			if c >= 4096 {
				dm, dd = 64, 128
			}
			for _, n := range []string{"time_maa_x", "time_maa_w", "time_maa_k", "time_maa_v", "time_maa_r", "time_maa_g"} {
				w.vec(a+n, []int{c}, 0.5, 0.1)
			}
			w.put(a+"time_maa_w1", []int{5 * dm, c}, tensor.F32, w.normal(5*dm*c, 0.01))
			w.put(a+"time_maa_w2", []int{5, c, dm}, tensor.F32, w.normal(5*dm*c, 0.01))
			w.vec(a+"time_decay", []int{h, hs, 1}, -1, 0.5)
			w.put(a+"time_decay_w1", []int{dd, c}, tensor.F32, w.normal(dd*c, 0.01))
			w.put(a+"time_decay_w2", []int{c, dd}, tensor.F32, w.normal(dd*c, 0.01))
			w.vec(a+"time_faaaa", []int{h, hs, 1}, 0.3, 0.1)
			for _, n := range []string{"key", "value", "receptance", "gate"} {
				w.mat(a+n+".weight", c, c, 0.5)
			}
			w.mat(a+"output.weight", c, c, 0.5)
			w.ln(a+"ln_x", c)
			ffn := c * 7 / 2 / 32 * 32
			w.vec(f+"time_maa_k", []int{c}, 0.5, 0.1)
			w.vec(f+"time_maa_r", []int{c}, 0.5, 0.1)
			w.mat(f+"key.weight", ffn, c, 0.5)
			w.mat(f+"receptance.weight", c, c, 0.5)
			w.mat(f+"value.weight", c, ffn, 0.5)
		case 7:
			dw, da, dv, dg := loraDims7(c)
			w.vec(a+"x_rwkvag", []int{6, 1, c}, 0.5, 0.1)
			w.vec(a+"w0", []int{1, 1, c}, -2, 1)
			w.vec(a+"a0", []int{1, 1, c}, -0.2, 0.2)
			w.mat(a+"w1", dw, c, 0.5)
			w.mat(a+"w2", c, dw, 0.1)
			w.mat(a+"a1", da, c, 0.5)
			w.mat(a+"a2", c, da, 0.1)
			if i > 0 {
				w.vec(a+"v0", []int{1, 1, c}, 0.7, 0.1)
				w.mat(a+"v1", dv, c, 0.5)
				w.mat(a+"v2", c, dv, 0.1)
			}
			w.mat(a+"g1", dg, c, 0.5)
			w.mat(a+"g2", c, dg, 0.1)
			w.vec(a+"k_k", []int{1, 1, c}, 0.7, 0.05)
			w.put(a+"k_a", []int{1, 1, c}, tensor.F32, w.full(c, 1.02))
			w.vec(a+"r_k", []int{h, hs}, -0.04, 0.01)
			w.mat(a+"receptance.weight", c, c, 0.5)
			w.mat(a+"key.weight", c, c, 0.3)
			w.mat(a+"value.weight", c, c, 0.5)
			w.mat(a+"output.weight", c, c, 0.5)
			w.ln(a+"ln_x", c)
			w.vec(f+"x_k", []int{1, 1, c}, 0.5, 0.1)
			w.mat(f+"key.weight", 4*c, c, 0.5)
			w.mat(f+"value.weight", c, 4*c, 0.5)
		default:
			return fmt.Errorf("unknown architecture %d", s.Arch)
		}
	}
	w.ln("ln_out", c)
	w.mat("head.weight", v, c, 1)
	if w.err != nil {
		return w.err
	}
	if err := w.w.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
