package format

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/rwkv-chat/rwkv-chat/internal/arch"
	"github.com/rwkv-chat/rwkv-chat/internal/quant"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// Writing GGUF files (the `quantize` command).
//
// Any model file the readers understand is first brought to the rwkv.cpp
// converter's form (spec §6.4: decays transformed, LoRA matrices (out,in),
// v7 x_* concatenated), then written with llama.cpp's RWKV tensor names and
// metadata (spec §7), so that llama.cpp reads the RWKV-6/7 files and this
// package reads them back with no conversion (File.Transformed). RWKV-4
// and RWKV-5 have no llama.cpp architecture: they are written as `rwkv4` and
// `rwkv5` with the same naming scheme (time_mix_lerp_k/v/r/g for the
// time_mix_* coefficients, time_mix_decay and time_mix_first for the
// transformed decay and bonus, channel_mix_lerp_k/r for ffn.time_mix_k/r).
//
// Tensor types (GGUFOptions.Type is the type asked for):
//   - the attention and FFN matrices get Type; a k-quant needs rows that are
//     a multiple of 256 and falls back to Q5_0 (Q4_K), Q5_1 (Q5_K) or Q8_0
//     (Q6_K) for other rows, and any quantized type falls back to F16 for
//     rows that are not a multiple of 32 (llama.cpp's fallbacks);
//   - emb.weight and head.weight are not quantized below 8 bits (rwkv.cpp
//     does not quantize them at all): Q8_0 for every quantized Type, Type
//     otherwise;
//   - LoRA matrices: F32 for RWKV-6 (llama.cpp keeps time_mix_w1/w2 and
//     time_mix_decay_w1/w2 in F32), for RWKV-7 F32 with Type F32, BF16 with
//     BF16 and F16 otherwise;
//   - every vector (norms, token-shift coefficients, decays, bonus, …) F32.
//
// The data section is aligned to 32 bytes and every tensor starts on a
// multiple of 32, so a mapped file gives aligned float views.

// GGUFAlignment is the alignment of the files written here.
const GGUFAlignment = 32

// GGUFKV is one metadata pair. Value is a string, bool, uint32, int32,
// uint64, int64, float32, float64, or a []string, []int32, []uint32 or
// []float32.
type GGUFKV struct {
	Key   string
	Value any
}

// GGUFTensor is one tensor to write. Write must write exactly the bytes of
// Shape (PyTorch order) in DType.
type GGUFTensor struct {
	Name  string
	DType tensor.DType
	Shape []int
	Write func(w io.Writer) error
}

// Bytes is the size of the tensor's data.
func (t *GGUFTensor) Bytes() (int64, error) {
	n, err := tensor.ElemCount(t.Shape)
	if err != nil {
		return 0, err
	}
	return t.DType.Bytes(n)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func ggufPutString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

func ggufPutValue(b []byte, v any) ([]byte, error) {
	le := binary.LittleEndian
	switch x := v.(type) {
	case string:
		b = le.AppendUint32(b, ggufString)
		return ggufPutString(b, x), nil
	case bool:
		b = le.AppendUint32(b, ggufBool)
		if x {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case uint32:
		return le.AppendUint32(le.AppendUint32(b, ggufUint32), x), nil
	case int32:
		return le.AppendUint32(le.AppendUint32(b, ggufInt32), uint32(x)), nil
	case uint64:
		return le.AppendUint64(le.AppendUint32(b, ggufUint64), x), nil
	case int64:
		return le.AppendUint64(le.AppendUint32(b, ggufInt64), uint64(x)), nil
	case float32:
		return le.AppendUint32(le.AppendUint32(b, ggufFloat32), math.Float32bits(x)), nil
	case float64:
		return le.AppendUint64(le.AppendUint32(b, ggufFloat64), math.Float64bits(x)), nil
	case []string:
		b = le.AppendUint32(b, ggufArray)
		b = le.AppendUint32(b, ggufString)
		b = le.AppendUint64(b, uint64(len(x)))
		for _, s := range x {
			b = ggufPutString(b, s)
		}
		return b, nil
	case []int32:
		b = le.AppendUint32(le.AppendUint32(b, ggufArray), ggufInt32)
		b = le.AppendUint64(b, uint64(len(x)))
		for _, e := range x {
			b = le.AppendUint32(b, uint32(e))
		}
		return b, nil
	case []uint32:
		b = le.AppendUint32(le.AppendUint32(b, ggufArray), ggufUint32)
		b = le.AppendUint64(b, uint64(len(x)))
		for _, e := range x {
			b = le.AppendUint32(b, e)
		}
		return b, nil
	case []float32:
		b = le.AppendUint32(le.AppendUint32(b, ggufArray), ggufFloat32)
		b = le.AppendUint64(b, uint64(len(x)))
		for _, e := range x {
			b = le.AppendUint32(b, math.Float32bits(e))
		}
		return b, nil
	}
	return b, fmt.Errorf("GGUF value of type %T is not supported", v)
}

// WriteGGUF writes a GGUF version 3 file: the metadata pairs in order (a
// general.alignment pair, if any, must be GGUFAlignment), then the tensor
// infos, then the data, every tensor aligned to GGUFAlignment.
func WriteGGUF(w io.Writer, kvs []GGUFKV, ts []GGUFTensor) error {
	le := binary.LittleEndian
	hdr := []byte("GGUF")
	hdr = le.AppendUint32(hdr, 3)
	hdr = le.AppendUint64(hdr, uint64(len(ts)))
	hdr = le.AppendUint64(hdr, uint64(len(kvs)))
	seen := map[string]bool{}
	for _, kv := range kvs {
		if seen[kv.Key] {
			return fmt.Errorf("GGUF: metadata key %s given twice", kv.Key)
		}
		seen[kv.Key] = true
		if kv.Key == "general.alignment" && kv.Value != any(uint32(GGUFAlignment)) {
			return fmt.Errorf("GGUF: general.alignment must be uint32(%d)", GGUFAlignment)
		}
		hdr = ggufPutString(hdr, kv.Key)
		var err error
		if hdr, err = ggufPutValue(hdr, kv.Value); err != nil {
			return fmt.Errorf("GGUF: metadata %s: %w", kv.Key, err)
		}
	}
	sizes := make([]int64, len(ts))
	var off uint64
	names := map[string]bool{}
	for i := range ts {
		t := &ts[i]
		if names[t.Name] {
			return fmt.Errorf("GGUF: tensor %s given twice", t.Name)
		}
		names[t.Name] = true
		if len(t.Shape) < 1 || len(t.Shape) > ggufMaxDims {
			return fmt.Errorf("GGUF: tensor %s has %d dimensions", t.Name, len(t.Shape))
		}
		if t.Shape[len(t.Shape)-1]%t.DType.BlockElems() != 0 {
			return fmt.Errorf("GGUF: tensor %s: rows of %d are not whole %s blocks", t.Name, t.Shape[len(t.Shape)-1], t.DType)
		}
		nb, err := t.Bytes()
		if err != nil {
			return fmt.Errorf("GGUF: tensor %s: %w", t.Name, err)
		}
		sizes[i] = nb
		hdr = ggufPutString(hdr, t.Name)
		hdr = le.AppendUint32(hdr, uint32(len(t.Shape)))
		for d := len(t.Shape) - 1; d >= 0; d-- { // ggml order: innermost first
			hdr = le.AppendUint64(hdr, uint64(t.Shape[d]))
		}
		hdr = le.AppendUint32(hdr, GGUFTypeID(t.DType))
		hdr = le.AppendUint64(hdr, off)
		off += uint64(alignUp(nb))
	}
	hdr = append(hdr, make([]byte, alignUp(int64(len(hdr)))-int64(len(hdr)))...)
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	var pad [GGUFAlignment]byte
	for i := range ts {
		cw := &countWriter{w: w}
		if err := ts[i].Write(cw); err != nil {
			return fmt.Errorf("tensor %s: %w", ts[i].Name, err)
		}
		if cw.n != sizes[i] {
			return fmt.Errorf("tensor %s: wrote %d bytes, want %d", ts[i].Name, cw.n, sizes[i])
		}
		if _, err := w.Write(pad[:alignUp(sizes[i])-sizes[i]]); err != nil {
			return err
		}
	}
	return nil
}

func alignUp(n int64) int64 { return (n + GGUFAlignment - 1) / GGUFAlignment * GGUFAlignment }

// GGUFOptions control the conversion of a model file to GGUF.
type GGUFOptions struct {
	// Type is the type of the attention and FFN matrices (see above).
	Type tensor.DType
	// Name goes to general.name.
	Name string
	// Tokens is the World vocabulary as a GGUF token list (escaped, padded
	// to the model's vocabulary; tokenizer.GGUFTokens), or nil.
	Tokens []string
	// ChatTemplate goes to tokenizer.chat_template when Tokens is set
	// (default "rwkv-world", the name llama.cpp knows).
	ChatTemplate string
	// RescaleEvery, for RWKV-6: divide att.output.weight and
	// ffn.value.weight of layer i by 2^(i/RescaleEvery) and store
	// rwkv6.rescale_every_n_layers, as llama.cpp's converter does
	// (spec §5.2; llama.cpp's converter uses 6). 0 writes the weights as
	// they are; −1 keeps a GGUF source's setting and means 0 otherwise.
	// The halving is exact except for the LayerNorm ε, so the logits move
	// slightly (for the tiny test model, 7e-4 with 6): engines that compute
	// in float32, llama.cpp's included, do not need it.
	RescaleEvery int
}

// GGUFPlan is a converted model ready to be written.
type GGUFPlan struct {
	Arch    string // rwkv4 … rwkv7
	Version string // "4", "5.0", "5.1", "5.2", "6.0", "7.0"
	Vocab   int
	Embd    int
	Layers  int
	// Types counts the output tensors per type; Fallbacks says which
	// matrices could not take the asked type and what they got instead.
	Types     map[tensor.DType]int
	Fallbacks []string
	KV        []GGUFKV
	Tensors   []GGUFTensor
}

// canonTensor is one tensor in the rwkv.cpp converter's form.
type canonTensor struct {
	name  string
	dt    tensor.DType
	shape []int
	data  []byte
}

func (c *canonTensor) numel() int {
	n := 1
	for _, d := range c.shape {
		n *= d
	}
	return n
}

func (c *canonTensor) floats() ([]float32, error) {
	out := make([]float32, c.numel())
	if err := tensor.Dequantize(c.dt, c.data, out); err != nil {
		return nil, fmt.Errorf("tensor %s: %w", c.name, err)
	}
	return out, nil
}

func f32Canon(name string, shape []int, v []float32) *canonTensor {
	return &canonTensor{name: name, dt: tensor.F32, shape: shape, data: tensor.Float32Bytes(v)}
}

// squeeze drops the dimensions of size 1 (keeping one).
func squeeze(s []int) []int {
	var out []int
	for _, d := range s {
		if d != 1 {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return []int{1}
	}
	return out
}

// blockOf parses "blocks.<i>.<rest>".
func blockOf(name string) (int, string, bool) {
	s, ok := strings.CutPrefix(name, "blocks.")
	if !ok {
		return 0, "", false
	}
	dot := strings.IndexByte(s, '.')
	if dot <= 0 {
		return 0, "", false
	}
	i, err := strconv.Atoi(s[:dot])
	if err != nil || i < 0 {
		return 0, "", false
	}
	return i, s[dot+1:], true
}

// canonicalize brings the tensors of f to the rwkv.cpp converter's form.
func canonicalize(f *File) (string, []*canonTensor, error) {
	version, err := arch.Detect(f.Tensors)
	if err != nil {
		return "", nil, err
	}
	var out []*canonTensor
	pass := func(t *tensor.Tensor, shape []int) {
		out = append(out, &canonTensor{name: t.Name, dt: t.DType, shape: shape, data: t.Data})
	}
	for _, t := range f.Tensors {
		if f.Transformed {
			pass(t, t.Shape)
			continue
		}
		layer, rest, inBlock := blockOf(t.Name)
		fl := t.Float32s
		switch {
		case !inBlock:
			pass(t, t.Shape)
		case version == "4" && rest == "att.time_decay":
			v, err := fl()
			if err != nil {
				return "", nil, err
			}
			for i, d := range v {
				v[i] = -float32(math.Exp(float64(d)))
			}
			out = append(out, f32Canon(t.Name, squeeze(t.Shape), v))
		case version[0] == '5' && rest == "att.time_decay":
			v, err := fl()
			if err != nil {
				return "", nil, err
			}
			for i, d := range v {
				v[i] = float32(math.Exp(-math.Exp(float64(d))))
			}
			out = append(out, f32Canon(t.Name, t.Shape, v))
		case version[0] == '5' && rest == "att.time_first":
			v, err := fl()
			if err != nil {
				return "", nil, err
			}
			for i, u := range v {
				v[i] = float32(math.Exp(float64(u)))
			}
			out = append(out, f32Canon(t.Name, t.Shape, v))
		case version == "6.0" && (rest == "att.time_maa_w1" || rest == "att.time_decay_w1" || rest == "att.time_decay_w2"):
			if len(t.Shape) != 2 {
				return "", nil, fmt.Errorf("tensor %s has shape %v, want a matrix", t.Name, t.Shape)
			}
			v, err := fl()
			if err != nil {
				return "", nil, err
			}
			out = append(out, f32Canon(t.Name, []int{t.Shape[1], t.Shape[0]}, transpose(v, t.Shape[0], t.Shape[1])))
		case version == "6.0" && rest == "att.time_maa_w2":
			if len(t.Shape) != 3 {
				return "", nil, fmt.Errorf("tensor %s has shape %v, want (5, D, C)", t.Name, t.Shape)
			}
			v, err := fl()
			if err != nil {
				return "", nil, err
			}
			S, D, C := t.Shape[0], t.Shape[1], t.Shape[2]
			tr := make([]float32, 0, len(v))
			for s := 0; s < S; s++ {
				tr = append(tr, transpose(v[s*D*C:(s+1)*D*C], D, C)...)
			}
			out = append(out, f32Canon(t.Name, []int{S, C, D}, tr))
		case version == "7.0" && layer == 0 && (rest == "att.v0" || rest == "att.v1" || rest == "att.v2"):
			// unused in layer 0 (spec §2.3)
		case version == "7.0" && len(rest) == 7 && strings.HasPrefix(rest, "att.x_") && strings.Contains("rwkvag", rest[6:]):
			if rest != "att.x_r" {
				continue // gathered with x_r
			}
			p := "blocks." + strconv.Itoa(layer) + ".att.x_"
			var all []float32
			for _, k := range "rwkvag" {
				x := f.Get(p + string(k))
				if x == nil {
					return "", nil, fmt.Errorf("missing tensor %s%c", p, k)
				}
				v, err := x.Float32s()
				if err != nil {
					return "", nil, err
				}
				if len(all) > 0 && len(v) != len(all)/strings.Index("rwkvag", string(k)) {
					return "", nil, fmt.Errorf("tensors %s* differ in size", p)
				}
				all = append(all, v...)
			}
			out = append(out, f32Canon(p[:len(p)-2]+"x_rwkvag", []int{6, 1, len(all) / 6}, all))
		case version == "7.0" && len(rest) == 6 && strings.HasPrefix(rest, "att.") && strings.Contains("wavg", rest[4:5]) && (rest[5] == '1' || rest[5] == '2'):
			if len(t.Shape) != 2 {
				return "", nil, fmt.Errorf("tensor %s has shape %v, want a matrix", t.Name, t.Shape)
			}
			v, err := fl()
			if err != nil {
				return "", nil, err
			}
			out = append(out, f32Canon(t.Name, []int{t.Shape[1], t.Shape[0]}, transpose(v, t.Shape[0], t.Shape[1])))
		case strings.Contains(rest, "time_mix_") || strings.Contains(rest, "time_maa_") || rest == "att.time_decay" || rest == "att.time_first":
			pass(t, squeeze(t.Shape))
		default:
			pass(t, t.Shape)
		}
	}
	return version, out, nil
}

// transpose turns a (rows, cols) array into (cols, rows).
func transpose(v []float32, rows, cols int) []float32 {
	out := make([]float32, len(v))
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			out[j*rows+i] = v[i*cols+j]
		}
	}
	return out
}

// GGUF names for the rwkv.cpp names, per architecture (the inverse of the
// reader's tables).
func ggufOutNames(arch string) (global, block map[string]string) {
	global = map[string]string{}
	for g, c := range ggufGlobalNames {
		global[c] = g
	}
	block = map[string]string{}
	for g, c := range ggufBlockNames {
		block[c] = g
	}
	for g, c := range ggufArchNames[arch] {
		if arch == "rwkv6" && (c == "att.time_maa_w" || c == "att.time_maa_k" || c == "att.time_maa_v" || c == "att.time_maa_r" || c == "att.time_maa_g") {
			continue // fused
		}
		block[c] = g
	}
	if arch == "rwkv5" {
		block["att.time_faaaa"] = "time_mix_first.weight"
	}
	return global, block
}

type tensorKind int

const (
	kindVector tensorKind = iota
	kindMatrix
	kindEmbHead
	kindLoRA6
	kindLoRA7
)

func kindOf(canon string) tensorKind {
	_, rest, inBlock := blockOf(canon)
	if !inBlock {
		if canon == "emb.weight" || canon == "head.weight" {
			return kindEmbHead
		}
		return kindVector
	}
	switch rest {
	case "att.key.weight", "att.value.weight", "att.receptance.weight", "att.output.weight", "att.gate.weight",
		"ffn.key.weight", "ffn.value.weight", "ffn.receptance.weight":
		return kindMatrix
	case "att.time_maa_w1", "att.time_maa_w2", "att.time_decay_w1", "att.time_decay_w2":
		return kindLoRA6
	case "att.w1", "att.w2", "att.a1", "att.a2", "att.v1", "att.v2", "att.g1", "att.g2":
		return kindLoRA7
	}
	return kindVector
}

// kFallback is llama.cpp's replacement for a k-quant on short rows.
var kFallback = map[tensor.DType]tensor.DType{tensor.Q4_K: tensor.Q5_0, tensor.Q5_K: tensor.Q5_1, tensor.Q6_K: tensor.Q8_0}

// outType picks the type of one output tensor of row length cols.
func outType(kind tensorKind, want tensor.DType, cols int) tensor.DType {
	switch kind {
	case kindVector, kindLoRA6:
		return tensor.F32
	case kindLoRA7:
		switch want {
		case tensor.F32, tensor.BF16:
			return want
		}
		return tensor.F16
	case kindEmbHead:
		if !want.Quantized() {
			return want
		}
		want = tensor.Q8_0
	}
	if fb, ok := kFallback[want]; ok && cols%want.BlockElems() != 0 {
		want = fb
	}
	if cols%want.BlockElems() != 0 {
		return tensor.F16
	}
	return want
}

// llama.cpp's general.file_type (enum llama_ftype) for each Type.
var llamaFileType = map[tensor.DType]uint32{
	tensor.F32: 0, tensor.F16: 1, tensor.Q4_0: 2, tensor.Q4_1: 3, tensor.Q8_0: 7, tensor.Q5_0: 8,
	tensor.Q5_1: 9, tensor.Q4_K: 14, tensor.Q5_K: 16, tensor.Q6_K: 18, tensor.BF16: 32,
}

// PlanGGUF converts the tensors of src (any format) for WriteGGUF. The
// plan refers to src's data: src must stay open until it is written.
func PlanGGUF(src *File, opt GGUFOptions) (*GGUFPlan, error) {
	if !opt.Type.Valid() {
		return nil, fmt.Errorf("unknown type %v", opt.Type)
	}
	version, canon, err := canonicalize(src)
	if err != nil {
		return nil, err
	}
	byName := map[string]*canonTensor{}
	for _, c := range canon {
		byName[c.name] = c
	}
	need := func(n string) (*canonTensor, error) {
		if c := byName[n]; c != nil {
			return c, nil
		}
		return nil, fmt.Errorf("missing tensor %s", n)
	}
	p := &GGUFPlan{Version: version, Types: map[tensor.DType]int{}}
	p.Arch = "rwkv" + version[:1]

	// Dimensions.
	emb, err := need("emb.weight")
	if err != nil {
		return nil, err
	}
	if len(emb.shape) != 2 {
		return nil, fmt.Errorf("tensor emb.weight has shape %v", emb.shape)
	}
	p.Vocab, p.Embd = emb.shape[0], emb.shape[1]
	for _, c := range canon {
		if i, _, ok := blockOf(c.name); ok && i+1 > p.Layers {
			p.Layers = i + 1
		}
	}
	fkey, err := need("blocks.0.ffn.key.weight")
	if err != nil {
		return nil, err
	}
	akey, err := need("blocks.0.att.key.weight")
	if err != nil {
		return nil, err
	}
	att := akey.shape[0]
	headSize := 0
	switch version[0] {
	case '5':
		d, err := need("blocks.0.att.time_decay")
		if err != nil {
			return nil, err
		}
		if d.shape[0] > 0 && att%d.shape[0] == 0 {
			headSize = att / d.shape[0]
		}
	case '6':
		u, err := need("blocks.0.att.time_faaaa")
		if err != nil {
			return nil, err
		}
		if u.shape[0] > 0 && att%u.shape[0] == 0 {
			headSize = att / u.shape[0]
		}
	case '7':
		rk, err := need("blocks.0.att.r_k")
		if err != nil {
			return nil, err
		}
		if len(rk.shape) < 2 || rk.shape[0] <= 0 || att%rk.shape[0] != 0 {
			return nil, fmt.Errorf("tensor blocks.0.att.r_k has shape %v, want (heads, head size)", rk.shape)
		}
		headSize = att / rk.shape[0]
	}
	if version[0] != '4' && headSize == 0 {
		return nil, fmt.Errorf("cannot derive the head size of this RWKV-%s model", version)
	}

	a := p.Arch
	name := opt.Name
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(src.Path), filepath.Ext(src.Path))
	}
	kv := []GGUFKV{
		{"general.architecture", a},
		{"general.name", name},
		{"general.alignment", uint32(GGUFAlignment)},
		{"general.file_type", llamaFileType[opt.Type]},
		{"general.quantization_version", uint32(2)},
		{a + ".context_length", uint32(1048576)},
		{a + ".embedding_length", uint32(p.Embd)},
		{a + ".block_count", uint32(p.Layers)},
		{a + ".feed_forward_length", uint32(fkey.shape[0])},
		{a + ".attention.layer_norm_epsilon", float32(1e-5)},
		{a + ".attention.head_count", uint32(0)},
	}
	if headSize > 0 {
		kv = append(kv, GGUFKV{a + ".wkv.head_size", uint32(headSize)})
	}
	// Rescaling (RWKV-6 only).
	srcRescale := 0
	if src.Format == FormatGGUF {
		srcRescale, _ = strconv.Atoi(src.Meta[MetaRescaleEvery])
	}
	rescale := opt.RescaleEvery
	if rescale < 0 {
		rescale = srcRescale
	}
	if version[0] != '6' {
		rescale = 0
		if srcRescale != 0 {
			return nil, fmt.Errorf("source has %s %d, which only RWKV-6 uses", MetaRescaleEvery, srcRescale)
		}
	}
	switch version[0] {
	case '6':
		w1, err := need("blocks.0.att.time_maa_w1")
		if err != nil {
			return nil, err
		}
		dw1, err := need("blocks.0.att.time_decay_w1")
		if err != nil {
			return nil, err
		}
		kv = append(kv,
			GGUFKV{a + ".time_mix_extra_dim", uint32(w1.shape[0] / 5)},
			GGUFKV{a + ".time_decay_extra_dim", uint32(dw1.shape[0])},
			GGUFKV{a + ".rescale_every_n_layers", uint32(rescale)},
			GGUFKV{a + ".token_shift_count", uint32(2)})
	case '7':
		rank := func(n string) uint32 {
			if c := byName[n]; c != nil && len(c.shape) == 2 {
				return uint32(c.shape[0])
			}
			return 0
		}
		vr := rank("blocks.1.att.v1")
		if vr == 0 {
			vr = rank("blocks.0.att.a1")
		}
		kv = append(kv,
			GGUFKV{a + ".attention.decay_lora_rank", rank("blocks.0.att.w1")},
			GGUFKV{a + ".attention.iclr_lora_rank", rank("blocks.0.att.a1")},
			GGUFKV{a + ".attention.value_residual_mix_lora_rank", vr},
			GGUFKV{a + ".attention.gate_lora_rank", rank("blocks.0.att.g1")},
			GGUFKV{a + ".token_shift_count", uint32(2)})
	}
	// Tokenizer.
	if opt.Tokens != nil {
		if len(opt.Tokens) != p.Vocab {
			return nil, fmt.Errorf("the token list has %d entries, the model's vocabulary %d", len(opt.Tokens), p.Vocab)
		}
		types := make([]int32, len(opt.Tokens))
		for i, s := range opt.Tokens {
			switch {
			case i == 0:
				types[i] = 3 // CONTROL
			case s == "[PAD"+strconv.Itoa(i)+"]":
				types[i] = 5 // UNUSED
			default:
				types[i] = 1 // NORMAL
			}
		}
		tmpl := opt.ChatTemplate
		if tmpl == "" {
			tmpl = "rwkv-world"
		}
		kv = append(kv,
			GGUFKV{"tokenizer.ggml.model", "rwkv"},
			GGUFKV{"tokenizer.ggml.tokens", opt.Tokens},
			GGUFKV{"tokenizer.ggml.token_type", types},
			GGUFKV{"tokenizer.ggml.bos_token_id", uint32(0)},
			GGUFKV{"tokenizer.ggml.eos_token_id", uint32(0)},
			GGUFKV{"tokenizer.ggml.eot_token_id", uint32(261)},
			GGUFKV{"tokenizer.chat_template", tmpl})
	} else {
		kv = append(kv, GGUFKV{"tokenizer.ggml.model", "none"})
	}
	p.KV = kv

	// Tensors.
	global, block := ggufOutNames(a)
	used := map[string]string{}
	fallbacks := map[[3]string]int{} // (asked, given, row length) → matrices
	add := func(gname, canonName string, shape []int, src *canonTensor, kind tensorKind, scale float32) error {
		if prev, dup := used[gname]; dup {
			return fmt.Errorf("tensors %s and %s both map to %s", prev, canonName, gname)
		}
		used[gname] = canonName
		cols := shape[len(shape)-1]
		dt := outType(kind, opt.Type, cols)
		if kind == kindMatrix || kind == kindEmbHead {
			want := opt.Type
			if kind == kindEmbHead && want.Quantized() {
				want = tensor.Q8_0
			}
			if dt != want {
				fallbacks[[3]string{want.String(), dt.String(), strconv.Itoa(cols)}]++
			}
		}
		if dt.Quantized() && (len(src.shape) == 0 || src.shape[len(src.shape)-1] != cols) {
			return fmt.Errorf("tensor %s: cannot quantize a reshaped tensor", canonName)
		}
		p.Types[dt]++
		p.Tensors = append(p.Tensors, GGUFTensor{Name: gname, DType: dt, Shape: shape,
			Write: func(w io.Writer) error { return convertRows(w, src, dt, scale) }})
		return nil
	}
	lerp6 := map[int][]*canonTensor{}
	for _, c := range canon {
		kind := kindOf(c.name)
		if g, ok := global[c.name]; ok {
			if err := add(g, c.name, c.shape, c, kind, 1); err != nil {
				return nil, err
			}
			continue
		}
		layer, rest, ok := blockOf(c.name)
		if !ok {
			return nil, fmt.Errorf("tensor %s has no GGUF name", c.name)
		}
		prefix := "blk." + strconv.Itoa(layer) + "."
		shape := c.shape
		scale := float32(1)
		switch {
		case a == "rwkv6" && (rest == "att.time_maa_w" || rest == "att.time_maa_k" || rest == "att.time_maa_v" || rest == "att.time_maa_r" || rest == "att.time_maa_g"):
			lerp6[layer] = append(lerp6[layer], c)
			if len(lerp6[layer]) < 5 {
				continue
			}
			// all five seen: fuse them, in the order w, k, v, r, g
			var all []float32
			for _, n := range ggufV6Fused {
				m := byName["blocks."+strconv.Itoa(layer)+"."+n]
				if m == nil {
					return nil, fmt.Errorf("missing tensor blocks.%d.%s", layer, n)
				}
				v, err := m.floats()
				if err != nil {
					return nil, err
				}
				if len(v) != p.Embd {
					return nil, fmt.Errorf("tensor %s has %d elements, want %d", m.name, len(v), p.Embd)
				}
				all = append(all, v...)
			}
			fused := f32Canon(prefix+"lerp_fused", []int{5, 1, 1, p.Embd}, all)
			if err := add(prefix+"time_mix_lerp_fused.weight", "blocks."+strconv.Itoa(layer)+".att.time_maa_*", fused.shape, fused, kindVector, 1); err != nil {
				return nil, err
			}
			continue
		case a == "rwkv7" && rest == "att.x_rwkvag":
			shape = []int{6, 1, 1, c.numel() / 6}
		case a == "rwkv7" && rest == "att.r_k":
			shape = []int{c.numel()}
		case a == "rwkv6" && rest == "att.time_faaaa":
			shape = []int{c.numel() / headSize, headSize}
		case kind == kindVector && (a == "rwkv6" || a == "rwkv7"):
			shape = []int{c.numel()} // llama.cpp squeezes the per-channel vectors
		}
		if rescale != 0 || srcRescale != 0 {
			if rest == "att.output.weight" || rest == "ffn.value.weight" {
				e := 0
				if srcRescale > 0 {
					e += layer / srcRescale
				}
				if rescale > 0 {
					e -= layer / rescale
				}
				scale = float32(math.Ldexp(1, e))
			}
		}
		g, ok := block[rest]
		if !ok {
			return nil, fmt.Errorf("tensor %s has no GGUF name in %s", c.name, a)
		}
		if err := add(prefix+g, c.name, shape, c, kind, scale); err != nil {
			return nil, err
		}
		// llama.cpp requires layer 0 of RWKV-7 to have v0/v1/v2 with the
		// shapes of a0/a1/a2 and writes copies of them (never used).
		if a == "rwkv7" && layer == 0 && (rest == "att.a0" || rest == "att.a1" || rest == "att.a2") {
			v := "att.v" + rest[5:]
			if err := add(prefix+block[v], "blocks.0."+v+" (copy of "+rest+")", shape, c, kind, 1); err != nil {
				return nil, err
			}
		}
	}
	for layer, ls := range lerp6 {
		if len(ls) != 5 {
			return nil, fmt.Errorf("layer %d has %d of the 5 time_maa_w/k/v/r/g vectors", layer, len(ls))
		}
	}
	for k, n := range fallbacks {
		p.Fallbacks = append(p.Fallbacks, fmt.Sprintf("%d matrices with rows of %s are %s, not %s (which needs rows of a multiple of %d)",
			n, k[2], k[1], k[0], blockOfName(k[0])))
	}
	sort.Strings(p.Fallbacks)
	return p, nil
}

func blockOfName(name string) int {
	dt, err := tensor.ParseDType(name)
	if err != nil {
		return 0
	}
	return dt.BlockElems()
}

// convertRows writes src as dt, scaled, a few rows at a time.
func convertRows(w io.Writer, src *canonTensor, dt tensor.DType, scale float32) error {
	if src.dt == dt && scale == 1 {
		_, err := w.Write(src.data)
		return err
	}
	n := src.numel()
	cols := 1
	if len(src.shape) > 0 {
		cols = src.shape[len(src.shape)-1]
	}
	if cols <= 0 || n%cols != 0 {
		return fmt.Errorf("bad shape %v", src.shape)
	}
	rows := n / cols
	srcRow, err := src.dt.Bytes(int64(cols))
	if err != nil {
		return err
	}
	dstRow, err := dt.Bytes(int64(cols))
	if err != nil {
		return err
	}
	chunk := max(1, (1<<20)/cols)
	fbuf := make([]float32, min(rows, chunk)*cols)
	obuf := make([]byte, int64(min(rows, chunk))*dstRow)
	for r := 0; r < rows; r += chunk {
		k := min(chunk, rows-r)
		f := fbuf[:k*cols]
		if err := tensor.Dequantize(src.dt, src.data[int64(r)*srcRow:int64(r+k)*srcRow], f); err != nil {
			return err
		}
		if scale != 1 {
			for i := range f {
				f[i] *= scale
			}
		}
		o := obuf[:int64(k)*dstRow]
		if err := quant.QuantizeInto(dt, f, o); err != nil {
			return err
		}
		if _, err := w.Write(o); err != nil {
			return err
		}
	}
	return nil
}

// Bytes is the size of the file the plan writes.
func (p *GGUFPlan) Bytes() int64 {
	var buf countWriter
	buf.w = io.Discard
	hdr := make([]GGUFTensor, len(p.Tensors))
	for i, t := range p.Tensors {
		hdr[i] = t
		n, _ := t.Bytes()
		hdr[i].Write = func(w io.Writer) error {
			_, err := io.CopyN(w, zeroReader{}, n)
			return err
		}
	}
	_ = WriteGGUF(&buf, p.KV, hdr)
	return buf.n
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// WriteFile writes the plan to path atomically: into a temporary file in
// the same directory, synced, checked by check (when not nil) while still
// under its temporary name, then renamed over path. On error nothing is
// left behind and an existing file at path is untouched.
func (p *GGUFPlan) WriteFile(path string, check func(tmp string) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 4<<20)
	if err = WriteGGUF(bw, p.KV, p.Tensors); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if check != nil {
		if err = check(tmp.Name()); err != nil {
			return fmt.Errorf("the written file does not load: %w", err)
		}
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, e := os.Open(dir); e == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
