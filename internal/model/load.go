package model

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/rwkv-chat/rwkv-chat/internal/arch"
	"github.com/rwkv-chat/rwkv-chat/internal/kernels"
	"github.com/rwkv-chat/rwkv-chat/internal/pagecache"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// Options adjust loading.
type Options struct {
	// GroupNormEps overrides ε of ln_x when non-zero (test-only: rwkv.cpp's
	// v5 graph uses 1e-5).
	GroupNormEps float32
	// RescaleEvery: see Config.RescaleEvery.
	RescaleEvery int
	// Progress, when set, is called as loading goes: done is the bytes of
	// tensor data dealt with so far (converted, or kept in place) out of
	// total, the size of all the tensors. It is first called with done 0,
	// then with growing values, and last with done == total. With Progress
	// set, Open also reads in a mapped file that is mostly not in the page
	// cache (Linux), so that this shows as progress while loading rather
	// than as a long first token. It is called on the loading goroutine.
	Progress func(done, total int64)
}

// pageInChunk is how much of a tensor is read in between two progress
// calls.
const pageInChunk = 4 << 20

// FromTensors builds a model from a file's tensors. transformed says the
// values are in the rwkv.cpp converter's form (spec §6.4): decays already
// exponentiated, LoRA matrices (out,in), v7 x_* concatenated as x_rwkvag.
func FromTensors(ts []*tensor.Tensor, transformed bool, opt Options) (m *Model, err error) {
	return fromTensors(ts, transformed, opt, false)
}

// fromTensors is FromTensors; pageIn asks to read in the pages of the
// weights kept in place (they are in a mapped file not yet in RAM).
func fromTensors(ts []*tensor.Tensor, transformed bool, opt Options, pageIn bool) (m *Model, err error) {
	ld := &loader{byName: make(map[string]*tensor.Tensor, len(ts)), tr: transformed,
		progress: opt.Progress, pageIn: pageIn}
	names := make([]string, 0, len(ts))
	for _, t := range ts {
		if err := t.Check(); err != nil {
			return nil, err
		}
		if _, dup := ld.byName[t.Name]; dup {
			return nil, fmt.Errorf("tensor %s appears twice", t.Name)
		}
		ld.byName[t.Name] = t
		names = append(names, t.Name)
	}
	version, err := arch.Detect(ts)
	if err != nil {
		return nil, err
	}
	cfg, err := ld.dims(version, names)
	if err != nil {
		return nil, err
	}
	cfg.GroupNormEps = 64e-5
	if opt.GroupNormEps != 0 {
		cfg.GroupNormEps = opt.GroupNormEps
	}
	cfg.RescaleEvery = opt.RescaleEvery
	m = &Model{Cfg: cfg}
	for _, t := range ts {
		m.params += int64(t.NumElems())
	}
	m.fingerprint = fingerprint(&cfg, ts)
	ld.cfg = &m.Cfg
	for _, t := range ts {
		ld.total += int64(len(t.Data))
	}
	ld.taken = make(map[string]bool, len(ts))
	if ld.progress != nil {
		ld.progress(0, ld.total)
	}
	m.load(ld)
	if ld.err != nil {
		return nil, ld.err
	}
	if ld.progress != nil && ld.done < ld.total {
		// Tensors the model does not use.
		ld.done = ld.total
		ld.progress(ld.done, ld.total)
	}
	m.initScratch()
	return m, nil
}

type loader struct {
	byName map[string]*tensor.Tensor
	tr     bool
	cfg    *Config
	err    error

	// Progress: see Options.Progress. taken holds the tensors already
	// counted in done.
	progress    func(done, total int64)
	done, total int64
	taken       map[string]bool
	pageIn      bool
}

// advance counts n more bytes done.
func (ld *loader) advance(n int64) {
	ld.done += n
	if ld.progress != nil && n > 0 {
		ld.progress(ld.done, ld.total)
	}
}

// took counts tensor t as dealt with once its values are converted.
func (ld *loader) took(t *tensor.Tensor) {
	if ld.taken[t.Name] {
		return
	}
	ld.taken[t.Name] = true
	ld.advance(int64(len(t.Data)))
}

// inPlace counts tensor t, whose data the model uses where it is (in the
// mapped file). With pageIn its pages are read in first, with progress
// along the way, except for the embedding table: one row of it is read per
// token, so reading it all would only cost time and memory.
func (ld *loader) inPlace(t *tensor.Tensor) {
	if !ld.pageIn || t.Name == "emb.weight" {
		ld.took(t)
		return
	}
	if ld.taken[t.Name] {
		return
	}
	ld.taken[t.Name] = true
	pagecache.ReadIn(t.Data, pageInChunk, func(n int) { ld.advance(int64(n)) })
}

func (ld *loader) fail(format string, a ...any) {
	if ld.err == nil {
		ld.err = fmt.Errorf(format, a...)
	}
}

func (ld *loader) need(name string) *tensor.Tensor {
	t := ld.byName[name]
	if t == nil {
		ld.fail("missing tensor %s", name)
	}
	return t
}

// dims reads V, C, A, F, L, H, N from tensor shapes (§2.2, §6.3).
func (ld *loader) dims(version string, names []string) (Config, error) {
	c := Config{Version: version}
	emb := ld.byName["emb.weight"]
	if emb == nil || len(emb.Shape) != 2 {
		return c, fmt.Errorf("missing or malformed tensor emb.weight")
	}
	c.Vocab, c.Embd = emb.Shape[0], emb.Shape[1]
	for _, n := range names {
		if rest, ok := strings.CutPrefix(n, "blocks."); ok {
			i, err := strconv.Atoi(rest[:max(strings.IndexByte(rest, '.'), 0)])
			if err == nil && i+1 > c.Layers {
				c.Layers = i + 1
			}
		}
	}
	if c.Layers == 0 || c.Layers > 1024 {
		return c, fmt.Errorf("bad layer count %d", c.Layers)
	}
	key := ld.byName["blocks.0.att.key.weight"]
	fk := ld.byName["blocks.0.ffn.key.weight"]
	if key == nil || len(key.Shape) != 2 || fk == nil || len(fk.Shape) != 2 {
		return c, fmt.Errorf("missing or malformed tensor blocks.0.att.key.weight / blocks.0.ffn.key.weight")
	}
	c.Att, c.FFN = key.Shape[0], fk.Shape[0]
	numel := func(n string) int {
		if t := ld.byName[n]; t != nil {
			return t.NumElems()
		}
		return 0
	}
	shape0 := func(n string) int {
		if t := ld.byName[n]; t != nil && len(t.Shape) > 0 {
			return t.Shape[0]
		}
		return 0
	}
	switch c.Major() {
	case 5:
		c.Heads = shape0("blocks.0.att.time_decay")
		if ld.tr {
			// rwkv.cpp keeps (H,1,1) or (H,N,1).
			c.Heads = shape0("blocks.0.att.time_decay")
		}
	case 6:
		c.Heads = shape0("blocks.0.att.time_faaaa")
	case 7:
		c.Heads = shape0("blocks.0.att.r_k")
		if t := ld.byName["blocks.0.att.r_k"]; t != nil && len(t.Shape) == 1 {
			return c, fmt.Errorf("tensor blocks.0.att.r_k is flat; cannot tell the head count")
		}
	}
	if c.Major() >= 5 {
		if c.Heads <= 0 || c.Att%c.Heads != 0 {
			return c, fmt.Errorf("cannot derive heads: %d heads for attention width %d", c.Heads, c.Att)
		}
		c.HeadSize = c.Att / c.Heads
		if c.Major() == 5 && numel("blocks.0.att.time_decay") != c.Heads && numel("blocks.0.att.time_decay") != c.Att {
			return c, fmt.Errorf("tensor blocks.0.att.time_decay has %d elements, want %d or %d", numel("blocks.0.att.time_decay"), c.Heads, c.Att)
		}
	}
	if c.Vocab <= 0 || c.Embd <= 0 || c.Att <= 0 || c.FFN <= 0 {
		return c, fmt.Errorf("bad dimensions V=%d C=%d A=%d F=%d", c.Vocab, c.Embd, c.Att, c.FFN)
	}
	return c, nil
}

// vec reads a small tensor of n elements as float32, whatever its shape.
func (ld *loader) vec(name string, n int) []float32 {
	t := ld.need(name)
	if t == nil {
		return nil
	}
	if t.NumElems() != n {
		ld.fail("tensor %s has shape %v, want %d elements", name, t.Shape, n)
		return nil
	}
	f, err := t.Float32s()
	if err != nil {
		ld.fail("%v", err)
		return f
	}
	ld.took(t)
	return f
}

// mat maps a Linear weight stored (out, in) = (rows, cols) in place.
func (ld *loader) mat(name string, rows, cols int) *kernels.Mat {
	t := ld.need(name)
	if t == nil {
		return nil
	}
	m := ld.matOf(t, name, rows, cols)
	if m != nil {
		ld.inPlace(t)
	}
	return m
}

func (ld *loader) matOf(t *tensor.Tensor, name string, rows, cols int) *kernels.Mat {
	if t.NumElems() != rows*cols || (len(t.Shape) == 2 && (t.Shape[0] != rows || t.Shape[1] != cols)) {
		ld.fail("tensor %s has shape %v, want [%d %d]", name, t.Shape, rows, cols)
		return nil
	}
	m, err := kernels.NewMat(t.DType, rows, cols, t.Data)
	if err != nil {
		ld.fail("tensor %s: %v", name, err)
	}
	return m
}

// lora reads a matrix used as x@M in the reference: stored (in, out) in
// .pth files, already (out, in) in rwkv.cpp files. It returns (rows=out,
// cols=in). LoRA matrices are small, so the .pth ones are widened and
// transposed once here.
func (ld *loader) lora(name string, out, in int) *kernels.Mat {
	if ld.tr {
		return ld.mat(name, out, in)
	}
	t := ld.need(name)
	if t == nil {
		return nil
	}
	if t.NumElems() != out*in || (len(t.Shape) == 2 && (t.Shape[0] != in || t.Shape[1] != out)) {
		ld.fail("tensor %s has shape %v, want [%d %d]", name, t.Shape, in, out)
		return nil
	}
	f, err := t.Float32s()
	if err != nil {
		ld.fail("%v", err)
		return nil
	}
	ld.took(t)
	return transposeF32(f, in, out)
}

// transposeF32 turns a (rows, cols) float32 array into the (cols, rows) Mat.
func transposeF32(f []float32, rows, cols int) *kernels.Mat {
	tr := make([]float32, len(f))
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			tr[j*rows+i] = f[i*cols+j]
		}
	}
	m, _ := kernels.NewMat(tensor.F32, cols, rows, tensor.Float32Bytes(tr))
	return m
}

func (m *Model) load(ld *loader) {
	c := &m.Cfg
	C, A, F, V, H := c.Embd, c.Att, c.FFN, c.Vocab, c.Heads
	m.emb = ld.mat("emb.weight", V, C)
	m.ln0w, m.ln0b = ld.vec("blocks.0.ln0.weight", C), ld.vec("blocks.0.ln0.bias", C)
	m.lnOutW, m.lnOutB = ld.vec("ln_out.weight", C), ld.vec("ln_out.bias", C)
	m.head = ld.mat("head.weight", V, C)
	m.layers = make([]layer, c.Layers)
	major := c.Major()
	for i := range m.layers {
		l := &m.layers[i]
		p := fmt.Sprintf("blocks.%d.", i)
		l.ln1w, l.ln1b = ld.vec(p+"ln1.weight", C), ld.vec(p+"ln1.bias", C)
		l.ln2w, l.ln2b = ld.vec(p+"ln2.weight", C), ld.vec(p+"ln2.bias", C)
		a := p + "att."
		l.key = ld.mat(a+"key.weight", A, C)
		l.value = ld.mat(a+"value.weight", A, C)
		l.recept = ld.mat(a+"receptance.weight", A, C)
		l.output = ld.mat(a+"output.weight", C, A)
		f := p + "ffn."
		l.fKey = ld.mat(f+"key.weight", F, C)
		l.fValue = ld.mat(f+"value.weight", C, F)
		if major != 7 {
			l.fRecept = ld.mat(f+"receptance.weight", C, C)
		}
		if major >= 5 {
			l.lnxW, l.lnxB = ld.vec(a+"ln_x.weight", A), ld.vec(a+"ln_x.bias", A)
		}
		switch major {
		case 4:
			l.mixK, l.mixV, l.mixR = ld.vec(a+"time_mix_k", C), ld.vec(a+"time_mix_v", C), ld.vec(a+"time_mix_r", C)
			l.decay = ld.vec(a+"time_decay", A)
			if !ld.tr {
				for j, d := range l.decay {
					l.decay[j] = -float32(math.Exp(float64(d)))
				}
			}
			l.first = ld.vec(a+"time_first", A)
			l.fMixK, l.fMixR = ld.vec(f+"time_mix_k", C), ld.vec(f+"time_mix_r", C)
		case 5:
			l.mixK, l.mixV, l.mixR = ld.vec(a+"time_mix_k", C), ld.vec(a+"time_mix_v", C), ld.vec(a+"time_mix_r", C)
			if c.Version != "5.0" {
				l.mixG = ld.vec(a+"time_mix_g", C)
				l.gate = ld.mat(a+"gate.weight", A, C)
			}
			l.decay = ld.perChannel(a+"time_decay", H, c.HeadSize)
			if !ld.tr {
				for j, d := range l.decay {
					l.decay[j] = float32(math.Exp(-math.Exp(float64(d))))
				}
			}
			if ld.byName[a+"time_faaaa"] != nil {
				l.first = ld.perChannel(a+"time_faaaa", H, c.HeadSize)
			} else {
				l.first = ld.perChannel(a+"time_first", H, c.HeadSize)
				if !ld.tr {
					for j, u := range l.first {
						l.first[j] = float32(math.Exp(float64(u)))
					}
				}
			}
			l.fMixK, l.fMixR = ld.vec(f+"time_mix_k", C), ld.vec(f+"time_mix_r", C)
		case 6:
			l.maaX = ld.vec(a+"time_maa_x", C)
			l.mixW, l.mixK, l.mixV = ld.vec(a+"time_maa_w", C), ld.vec(a+"time_maa_k", C), ld.vec(a+"time_maa_v", C)
			l.mixR, l.mixG = ld.vec(a+"time_maa_r", C), ld.vec(a+"time_maa_g", C)
			l.gate = ld.mat(a+"gate.weight", A, C)
			l.decay = ld.vec(a+"time_decay", A)
			l.first = ld.vec(a+"time_faaaa", A)
			w1 := ld.need(a + "time_maa_w1")
			w2 := ld.need(a + "time_decay_w1")
			if w1 == nil || w2 == nil || len(w1.Shape) != 2 || len(w2.Shape) != 2 {
				ld.fail("malformed v6 LoRA tensors in layer %d", i)
				return
			}
			d5 := w1.Shape[1]
			dd := w2.Shape[1]
			if ld.tr {
				d5, dd = w1.Shape[0], w2.Shape[0]
			}
			if d5%5 != 0 {
				ld.fail("tensor %stime_maa_w1 has shape %v, not 5 LoRA blocks", a, w1.Shape)
				return
			}
			l.maaW1 = ld.lora(a+"time_maa_w1", d5, C)
			l.maaW2 = ld.maaW2(a+"time_maa_w2", d5/5, C)
			l.decW1 = ld.lora(a+"time_decay_w1", dd, C)
			l.decW2 = ld.lora(a+"time_decay_w2", A, dd)
			l.fMixK, l.fMixR = ld.vec(f+"time_maa_k", C), ld.vec(f+"time_maa_r", C)
		case 7:
			if ld.tr {
				x := ld.vec(a+"x_rwkvag", 6*C)
				if x != nil {
					l.mixR, l.mixW, l.mixK, l.mixV, l.mixA, l.mixG = x[:C], x[C:2*C], x[2*C:3*C], x[3*C:4*C], x[4*C:5*C], x[5*C:]
				}
			} else {
				l.mixR, l.mixW, l.mixK = ld.vec(a+"x_r", C), ld.vec(a+"x_w", C), ld.vec(a+"x_k", C)
				l.mixV, l.mixA, l.mixG = ld.vec(a+"x_v", C), ld.vec(a+"x_a", C), ld.vec(a+"x_g", C)
			}
			l.w0, l.a0 = ld.vec(a+"w0", C), ld.vec(a+"a0", C)
			l.kk, l.ka, l.rk = ld.vec(a+"k_k", C), ld.vec(a+"k_a", C), ld.vec(a+"r_k", A)
			l.w1, l.w2 = ld.loraPair(a+"w1", a+"w2", C)
			l.a1, l.a2 = ld.loraPair(a+"a1", a+"a2", C)
			l.g1, l.g2 = ld.loraPair(a+"g1", a+"g2", C)
			if i > 0 {
				l.v0 = ld.vec(a+"v0", C)
				l.v1, l.v2 = ld.loraPair(a+"v1", a+"v2", C)
			}
			l.fMixK = ld.vec(f+"x_k", C)
		}
	}
	if ld.err == nil {
		m.names = sortedNames(ld.byName)
	}
}

// loraPair reads a v7 LoRA (x@w1)@w2 of rank D, found from w1's shape.
func (ld *loader) loraPair(n1, n2 string, C int) (*kernels.Mat, *kernels.Mat) {
	t := ld.need(n1)
	if t == nil {
		return nil, nil
	}
	if len(t.Shape) != 2 {
		ld.fail("tensor %s has shape %v, want a matrix", n1, t.Shape)
		return nil, nil
	}
	D := t.Shape[1] // .pth: (C, D)
	if ld.tr {
		D = t.Shape[0] // rwkv.cpp: (D, C)
	}
	return ld.lora(n1, D, C), ld.lora(n2, C, D)
}

// maaW2 splits v6 time_maa_w2 into its five (C, D) matrices.
func (ld *loader) maaW2(name string, D, C int) [5]*kernels.Mat {
	var out [5]*kernels.Mat
	t := ld.need(name)
	if t == nil {
		return out
	}
	if t.NumElems() != 5*D*C {
		ld.fail("tensor %s has shape %v, want 5×%d×%d", name, t.Shape, D, C)
		return out
	}
	if ld.tr { // (5, C, D): each slice is already (out, in)
		ld.inPlace(t)
		n := len(t.Data) / 5
		for f := range out {
			out[f] = ld.matOf(&tensor.Tensor{Name: name, DType: t.DType, Shape: []int{C, D}, Data: t.Data[f*n : (f+1)*n]}, name, C, D)
		}
		return out
	}
	all, err := t.Float32s() // (5, D, C): slice f is used as h_f @ w2[f]
	if err != nil {
		ld.fail("%v", err)
		return out
	}
	ld.took(t)
	for f := range out {
		out[f] = transposeF32(all[f*D*C:(f+1)*D*C], D, C)
	}
	return out
}

// perChannel reads a per-head (H) or per-channel (H·N) vector and
// broadcasts it to H·N channels.
func (ld *loader) perChannel(name string, H, N int) []float32 {
	t := ld.need(name)
	if t == nil {
		return nil
	}
	f, err := t.Float32s()
	if err != nil {
		ld.fail("%v", err)
		return nil
	}
	ld.took(t)
	switch len(f) {
	case H * N:
		return f
	case H:
		out := make([]float32, H*N)
		for i := range out {
			out[i] = f[i/N]
		}
		return out
	}
	ld.fail("tensor %s has shape %v, want %d or %d elements", name, t.Shape, H, H*N)
	return nil
}

// fingerprint identifies a model by its dims and its tensors' metadata
// (names, types, shapes), so that a saved session is not loaded into
// another model.
func fingerprint(c *Config, ts []*tensor.Tensor) string {
	sorted := append([]*tensor.Tensor(nil), ts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	h := sha256.New()
	fmt.Fprintf(h, "rwkv %s V%d C%d A%d F%d L%d H%d N%d\n", c.Version, c.Vocab, c.Embd, c.Att, c.FFN, c.Layers, c.Heads, c.HeadSize)
	for _, t := range sorted {
		fmt.Fprintf(h, "%s %s %v\n", t.Name, t.DType, t.Shape)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func sortedNames(m map[string]*tensor.Tensor) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
