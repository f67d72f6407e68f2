package format

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// GGUF (llama.cpp's container, spec §7; ggml docs/gguf.md), little-endian:
//
//	"GGUF" u32 version (2 or 3) u64 n_tensors u64 n_kv
//	n_kv × { string key, u32 type, value }
//	n_tensors × { string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset }
//	padding to general.alignment (default 32), then the data section; each
//	tensor's offset is relative to it and a multiple of the alignment.
//
// A string is u64 length + bytes; an array is u32 element type + u64 count +
// elements. Dims are in ggml order (ne[0] innermost) and are reversed into
// PyTorch order here.
//
// The tensors are renamed to the rwkv.cpp converter's names (spec §6.4) so
// that the model loader reads them as an rwkv.cpp file (File.Transformed):
// see ggufNames. Besides llama.cpp's `rwkv6` and `rwkv7`, the reader takes
// `rwkv4` and `rwkv5`, names rwkv-chat's own writer uses for the versions
// llama.cpp has no architecture for (same naming scheme).

// GGUF metadata value types.
const (
	ggufUint8 uint32 = iota
	ggufInt8
	ggufUint16
	ggufInt16
	ggufUint32
	ggufInt32
	ggufFloat32
	ggufBool
	ggufString
	ggufArray
	ggufUint64
	ggufInt64
	ggufFloat64
	ggufNumTypes
)

var ggufTypeNames = [...]string{"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"}

// ggufMinSize is the fewest bytes a value of each type takes.
var ggufMinSize = [...]int64{1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8}

const (
	ggufMaxDims      = 4             // GGML_MAX_DIMS
	ggufMaxKV        = 1 << 20       // metadata pairs
	ggufMaxKeyLen    = 65535         // bytes in a key
	ggufMaxArrayMeta = 1 << 20       // array elements kept in Meta, all arrays together; the rest are checked but not kept
	ggufMaxString    = 64 << 20      // bytes in a metadata string (a chat template or tokenizer JSON is far less)
	ggufMaxDepth     = 3             // nested arrays
	ggufDefaultAlign = 32            // GGUF_DEFAULT_ALIGNMENT
	ggufMaxAlign     = 1 << 24       // refuse absurd alignments
	ggufInfoMin      = 8 + 4 + 4 + 8 // smallest tensor info (empty name, no dims)
	ggufKVMin        = 8 + 4 + 1     // smallest key/value pair
)

// GGML type ids as GGUF files number them (ggml.h enum ggml_type). They
// differ from rwkv.cpp's old ids (spec §6.2).
var ggufTypes = map[uint32]tensor.DType{
	0: tensor.F32, 1: tensor.F16, 2: tensor.Q4_0, 3: tensor.Q4_1, 6: tensor.Q5_0, 7: tensor.Q5_1,
	8: tensor.Q8_0, 12: tensor.Q4_K, 13: tensor.Q5_K, 14: tensor.Q6_K, 30: tensor.BF16,
}

var ggufTypeNamesUnsupported = map[uint32]string{
	4: "Q4_2 (removed from ggml)", 5: "Q4_3 (removed from ggml)", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 15: "Q8_K",
	16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S",
	23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M",
	31: "Q4_0_4_4", 32: "Q4_0_4_8", 33: "Q4_0_8_8", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
}

// GGUFTypeID is the ggml type id a GGUF file uses for dt.
func GGUFTypeID(dt tensor.DType) uint32 {
	for id, d := range ggufTypes {
		if d == dt {
			return id
		}
	}
	panic("format: no GGUF type for " + dt.String())
}

// Meta keys filled for GGUF files, besides every metadata pair under its
// own key (scalars as text, arrays as JSON).
const (
	MetaArchitecture = "architecture"           // general.architecture
	MetaHeadSize     = "head_size"              // {arch}.wkv.head_size
	MetaRescaleEvery = "rescale_every_n_layers" // {arch}.rescale_every_n_layers (rwkv6)
	MetaGGUFVersion  = "gguf_version"
	MetaAlignment    = "alignment"
	metaTokens       = "tokenizer.ggml.tokens"
	metaTokModel     = "tokenizer.ggml.model"
)

type ggufReader struct {
	data []byte
	off  int64
	keep int64 // array elements that may still be kept in Meta
}

func (r *ggufReader) size() int64 { return int64(len(r.data)) }
func (r *ggufReader) left() int64 { return r.size() - r.off }

func (r *ggufReader) need(n int64, what string) error {
	if n < 0 || r.left() < n {
		return truncErr(what, n, r.off, r.size())
	}
	return nil
}

func (r *ggufReader) u32(what string) (uint32, error) {
	if err := r.need(4, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint32(r.data[r.off:])
	r.off += 4
	return v, nil
}

func (r *ggufReader) u64(what string) (uint64, error) {
	if err := r.need(8, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint64(r.data[r.off:])
	r.off += 8
	return v, nil
}

// str reads a string of at most limit bytes (which must also fit in what is
// left of the file).
func (r *ggufReader) str(what string, limit int64) (string, error) {
	start := r.off
	n, err := r.u64("the length of " + what)
	if err != nil {
		return "", err
	}
	if n > uint64(limit) {
		return "", fmt.Errorf("%s at offset %d: length %d is more than the %d allowed", what, start, n, limit)
	}
	if err := r.need(int64(n), what); err != nil {
		return "", err
	}
	s := string(r.data[r.off : r.off+int64(n)])
	r.off += int64(n)
	return s, nil
}

// value reads one value of type typ. It returns a Go value for Meta:
// uint64, int64, float64, bool, string or []any.
func (r *ggufReader) value(typ uint32, what string, depth int) (any, error) {
	switch typ {
	case ggufUint8, ggufInt8, ggufBool:
		if err := r.need(1, what); err != nil {
			return nil, err
		}
		b := r.data[r.off]
		r.off++
		switch typ {
		case ggufInt8:
			return int64(int8(b)), nil
		case ggufBool:
			if b > 1 {
				return nil, fmt.Errorf("%s: bool value %d", what, b)
			}
			return b == 1, nil
		}
		return uint64(b), nil
	case ggufUint16, ggufInt16:
		if err := r.need(2, what); err != nil {
			return nil, err
		}
		v := binary.LittleEndian.Uint16(r.data[r.off:])
		r.off += 2
		if typ == ggufInt16 {
			return int64(int16(v)), nil
		}
		return uint64(v), nil
	case ggufUint32, ggufInt32, ggufFloat32:
		v, err := r.u32(what)
		switch typ {
		case ggufInt32:
			return int64(int32(v)), err
		case ggufFloat32:
			return float64(math.Float32frombits(v)), err
		}
		return uint64(v), err
	case ggufUint64, ggufInt64, ggufFloat64:
		v, err := r.u64(what)
		switch typ {
		case ggufInt64:
			return int64(v), err
		case ggufFloat64:
			return math.Float64frombits(v), err
		}
		return v, err
	case ggufString:
		return r.str(what, min(r.left(), ggufMaxString))
	case ggufArray:
		if depth >= ggufMaxDepth {
			return nil, fmt.Errorf("%s: arrays nested more than %d deep", what, ggufMaxDepth)
		}
		et, err := r.u32("the element type of " + what)
		if err != nil {
			return nil, err
		}
		if et >= ggufNumTypes {
			return nil, fmt.Errorf("%s: unknown array element type %d", what, et)
		}
		start := r.off
		n, err := r.u64("the length of " + what)
		if err != nil {
			return nil, err
		}
		// Every element takes at least ggufMinSize bytes: refuse counts the
		// rest of the file cannot hold before allocating anything.
		if n > uint64(r.left()/ggufMinSize[et]) {
			return nil, fmt.Errorf("%s at offset %d: %d %s elements cannot fit in the %d bytes left", what, start, n, ggufTypeNames[et], r.left())
		}
		keep := n <= uint64(r.keep)
		var out []any
		if keep {
			r.keep -= int64(n)
			out = make([]any, 0, n)
		}
		for i := uint64(0); i < n; i++ {
			v, err := r.value(et, what, depth+1)
			if err != nil {
				return nil, err
			}
			if keep {
				out = append(out, v)
			}
		}
		if !keep {
			return fmt.Sprintf("[array of %d %s]", n, ggufTypeNames[et]), nil
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: unknown value type %d", what, typ)
}

// metaText renders a metadata value for File.Meta.
func metaText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case uint64:
		return strconv.FormatUint(x, 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		for i, e := range x {
			if f, ok := e.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
				x[i] = strconv.FormatFloat(f, 'g', -1, 64) // JSON has no NaN/Inf
			}
		}
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(x); err != nil {
			return fmt.Sprintf("[array of %d]", len(x))
		}
		return strings.TrimSuffix(b.String(), "\n")
	}
	return fmt.Sprint(v)
}

type ggufTensorInfo struct {
	name  string
	shape []int // PyTorch order
	dt    tensor.DType
	off   uint64
	pos   int64 // where the info starts, for errors
}

// parseGGUF reads a GGUF file and maps its tensors onto the rwkv.cpp names.
func (f *File) parseGGUF(data []byte) error {
	r := &ggufReader{data: data, keep: ggufMaxArrayMeta}
	if err := r.need(4+4+8+8, "the GGUF header"); err != nil {
		return err
	}
	r.off = 4
	version, _ := r.u32("")
	switch {
	case version == 1:
		return errors.New("GGUF version 1 (32-bit counts, 2023) is not supported; re-convert the model with current llama.cpp")
	case version != 2 && version != 3 && (version>>24 == 2 || version>>24 == 3):
		return errors.New("big-endian GGUF file; only little-endian files are supported")
	case version != 2 && version != 3:
		return fmt.Errorf("unsupported GGUF version %d (want 2 or 3)", version)
	}
	nTensors, _ := r.u64("")
	nKV, _ := r.u64("")
	if nTensors > maxTensors {
		return fmt.Errorf("%d tensors (at most %d allowed)", nTensors, maxTensors)
	}
	if nTensors > uint64(r.left()/ggufInfoMin) {
		return fmt.Errorf("%d tensors cannot fit in a file of %d bytes", nTensors, r.size())
	}
	if nKV > ggufMaxKV || nKV > uint64(r.left()/ggufKVMin) {
		return fmt.Errorf("%d metadata pairs cannot fit in a file of %d bytes", nKV, r.size())
	}
	f.Meta[MetaGGUFVersion] = strconv.FormatUint(uint64(version), 10)

	kv := make(map[string]any, nKV)
	for i := uint64(0); i < nKV; i++ {
		key, err := r.str(fmt.Sprintf("metadata key #%d", i), ggufMaxKeyLen)
		if err != nil {
			return err
		}
		if key == "" {
			return fmt.Errorf("metadata key #%d is empty", i)
		}
		if _, dup := kv[key]; dup {
			return fmt.Errorf("metadata key %s appears twice", quoteName(key))
		}
		typ, err := r.u32("the type of metadata " + quoteName(key))
		if err != nil {
			return err
		}
		if typ >= ggufNumTypes {
			return fmt.Errorf("metadata %s: unknown value type %d", quoteName(key), typ)
		}
		v, err := r.value(typ, "metadata "+quoteName(key), 0)
		if err != nil {
			return err
		}
		kv[key] = v
		f.Meta[key] = metaText(v)
	}

	align := uint64(ggufDefaultAlign)
	if v, ok := kv["general.alignment"]; ok {
		a, isU := v.(uint64)
		if !isU || a == 0 || a&(a-1) != 0 || a > ggufMaxAlign {
			return fmt.Errorf("general.alignment %s is not a power of two up to %d", metaText(v), ggufMaxAlign)
		}
		align = a
	}
	f.Meta[MetaAlignment] = strconv.FormatUint(align, 10)

	arch, err := ggufArch(kv)
	if err != nil {
		return err
	}
	f.Meta[MetaArchitecture] = arch

	infos := make([]ggufTensorInfo, 0, nTensors)
	for i := uint64(0); i < nTensors; i++ {
		ti := ggufTensorInfo{pos: r.off}
		name, err := r.str(fmt.Sprintf("the name of tensor #%d", i), maxNameLen)
		if err != nil {
			return err
		}
		ti.name = name
		qn := quoteName(name)
		nd, err := r.u32("the dimension count of tensor " + qn)
		if err != nil {
			return err
		}
		if nd < 1 || nd > ggufMaxDims {
			return fmt.Errorf("tensor %s: %d dimensions (want 1 to %d)", qn, nd, ggufMaxDims)
		}
		ti.shape = make([]int, nd)
		n := int64(1)
		for d := 0; d < int(nd); d++ {
			ne, err := r.u64("the dimensions of tensor " + qn)
			if err != nil {
				return err
			}
			if ne == 0 || ne > maxDim {
				return fmt.Errorf("tensor %s: dimension %d is %d (want 1 to %d)", qn, d, ne, uint64(maxDim))
			}
			if n > math.MaxInt64/int64(ne) {
				return fmt.Errorf("tensor %s: shape overflows", qn)
			}
			n *= int64(ne)
			ti.shape[int(nd)-1-d] = int(ne)
		}
		typ, err := r.u32("the type of tensor " + qn)
		if err != nil {
			return err
		}
		dt, ok := ggufTypes[typ]
		if !ok {
			if nm, known := ggufTypeNamesUnsupported[typ]; known {
				return fmt.Errorf("tensor %s: ggml type %s (%d) is not supported (supported: F32, F16, BF16, Q8_0, Q5_1, Q5_0, Q4_1, Q4_0, Q6_K, Q5_K, Q4_K)", qn, nm, typ)
			}
			return fmt.Errorf("tensor %s: unknown ggml type %d", qn, typ)
		}
		ti.dt = dt
		if be := dt.BlockElems(); ti.shape[len(ti.shape)-1]%be != 0 {
			return fmt.Errorf("tensor %s: rows of %d elements are not a whole number of %s blocks (%d)", qn, ti.shape[len(ti.shape)-1], dt, be)
		}
		if ti.off, err = r.u64("the offset of tensor " + qn); err != nil {
			return err
		}
		if ti.off%align != 0 {
			return fmt.Errorf("tensor %s: data offset %d is not a multiple of the alignment %d", qn, ti.off, align)
		}
		infos = append(infos, ti)
	}

	dataStart := (uint64(r.off) + align - 1) / align * align
	size := uint64(r.size())
	if len(infos) == 0 {
		return errors.New("GGUF file holds no tensors")
	}
	if dataStart > size {
		return truncErr("the GGUF data section", int64(dataStart)-r.off, r.off, r.size())
	}
	raw := make([]*tensor.Tensor, 0, len(infos))
	for _, ti := range infos {
		n, _ := tensor.ElemCount(ti.shape)
		nb, err := ti.dt.Bytes(n)
		if err != nil {
			return fmt.Errorf("tensor %s: %w", quoteName(ti.name), err)
		}
		room := size - dataStart
		if ti.off > room || uint64(nb) > room-ti.off {
			return fmt.Errorf("tensor %s: %d bytes at data offset %d run past the end of the file (data section of %d bytes)", quoteName(ti.name), nb, ti.off, room)
		}
		at := int64(dataStart + ti.off)
		raw = append(raw, &tensor.Tensor{Name: ti.name, DType: ti.dt, Shape: ti.shape, Data: data[at : at+nb : at+nb]})
	}

	f.Transformed = true
	return f.mapGGUF(arch, kv, raw)
}

// ggufArch checks general.architecture.
func ggufArch(kv map[string]any) (string, error) {
	v, ok := kv["general.architecture"]
	if !ok {
		return "", errors.New("GGUF file without general.architecture")
	}
	arch, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("general.architecture is a %T, not a string", v)
	}
	switch arch {
	case "rwkv4", "rwkv5", "rwkv6", "rwkv7":
		return arch, nil
	case "rwkv6qwen2", "arwkv7":
		return "", fmt.Errorf("GGUF architecture %s (an RWKV hybrid with Qwen2 layers) is not supported; rwkv-chat reads rwkv6 and rwkv7 GGUF files", arch)
	}
	return "", fmt.Errorf("GGUF architecture %s is not an RWKV model; rwkv-chat reads rwkv6 and rwkv7 GGUF files", quoteName(arch))
}

// ggufUint reads an unsigned integer metadata value (0, false when absent).
func ggufUint(kv map[string]any, key string) (uint64, bool, error) {
	v, ok := kv[key]
	if !ok {
		return 0, false, nil
	}
	switch x := v.(type) {
	case uint64:
		return x, true, nil
	case int64:
		if x >= 0 {
			return uint64(x), true, nil
		}
	}
	return 0, false, fmt.Errorf("metadata %s is %s, want a non-negative integer", key, metaText(v))
}

// Name tables: GGUF name (without "blk.N.") → rwkv.cpp name (without
// "blocks.N."). Entries used by every architecture, then per architecture.
var (
	ggufGlobalNames = map[string]string{
		"token_embd.weight":      "emb.weight",
		"token_embd_norm.weight": "blocks.0.ln0.weight",
		"token_embd_norm.bias":   "blocks.0.ln0.bias",
		"output_norm.weight":     "ln_out.weight",
		"output_norm.bias":       "ln_out.bias",
		"output.weight":          "head.weight",
	}
	ggufBlockNames = map[string]string{
		"attn_norm.weight":              "ln1.weight",
		"attn_norm.bias":                "ln1.bias",
		"attn_norm_2.weight":            "ln2.weight",
		"attn_norm_2.bias":              "ln2.bias",
		"time_mix_key.weight":           "att.key.weight",
		"time_mix_value.weight":         "att.value.weight",
		"time_mix_receptance.weight":    "att.receptance.weight",
		"time_mix_output.weight":        "att.output.weight",
		"time_mix_gate.weight":          "att.gate.weight",
		"time_mix_ln.weight":            "att.ln_x.weight",
		"time_mix_ln.bias":              "att.ln_x.bias",
		"channel_mix_key.weight":        "ffn.key.weight",
		"channel_mix_value.weight":      "ffn.value.weight",
		"channel_mix_receptance.weight": "ffn.receptance.weight",
	}
	ggufArchNames = map[string]map[string]string{
		"rwkv4": {
			"time_mix_lerp_k.weight":    "att.time_mix_k",
			"time_mix_lerp_v.weight":    "att.time_mix_v",
			"time_mix_lerp_r.weight":    "att.time_mix_r",
			"time_mix_decay.weight":     "att.time_decay",
			"time_mix_first.weight":     "att.time_first",
			"channel_mix_lerp_k.weight": "ffn.time_mix_k",
			"channel_mix_lerp_r.weight": "ffn.time_mix_r",
		},
		"rwkv5": {
			"time_mix_lerp_k.weight":    "att.time_mix_k",
			"time_mix_lerp_v.weight":    "att.time_mix_v",
			"time_mix_lerp_r.weight":    "att.time_mix_r",
			"time_mix_lerp_g.weight":    "att.time_mix_g",
			"time_mix_decay.weight":     "att.time_decay",
			"time_mix_first.weight":     "att.time_first",
			"channel_mix_lerp_k.weight": "ffn.time_mix_k",
			"channel_mix_lerp_r.weight": "ffn.time_mix_r",
		},
		"rwkv6": {
			"time_mix_lerp_x.weight":     "att.time_maa_x",
			"time_mix_lerp_w.weight":     "att.time_maa_w",
			"time_mix_lerp_k.weight":     "att.time_maa_k",
			"time_mix_lerp_v.weight":     "att.time_maa_v",
			"time_mix_lerp_r.weight":     "att.time_maa_r",
			"time_mix_lerp_g.weight":     "att.time_maa_g",
			"time_mix_lerp_fused.weight": ggufV6FusedName,
			"time_mix_w1.weight":         "att.time_maa_w1",
			"time_mix_w2.weight":         "att.time_maa_w2",
			"time_mix_decay.weight":      "att.time_decay",
			"time_mix_decay_w1.weight":   "att.time_decay_w1",
			"time_mix_decay_w2.weight":   "att.time_decay_w2",
			"time_mix_first.weight":      "att.time_faaaa",
			"channel_mix_lerp_k.weight":  "ffn.time_maa_k",
			"channel_mix_lerp_r.weight":  "ffn.time_maa_r",
		},
		"rwkv7": {
			"time_mix_w0.weight":         "att.w0",
			"time_mix_w1.weight":         "att.w1",
			"time_mix_w2.weight":         "att.w2",
			"time_mix_a0.weight":         "att.a0",
			"time_mix_a1.weight":         "att.a1",
			"time_mix_a2.weight":         "att.a2",
			"time_mix_v0.weight":         "att.v0",
			"time_mix_v1.weight":         "att.v1",
			"time_mix_v2.weight":         "att.v2",
			"time_mix_g1.weight":         "att.g1",
			"time_mix_g2.weight":         "att.g2",
			"time_mix_k_k.weight":        "att.k_k",
			"time_mix_k_a.weight":        "att.k_a",
			"time_mix_r_k.weight":        "att.r_k",
			"time_mix_lerp_fused.weight": "att.x_rwkvag",
			"channel_mix_lerp_k.weight":  "ffn.x_k",
		},
	}
	// ggufV6FusedName stands for v6 time_mix_lerp_fused, which is split.
	ggufV6FusedName = "att.time_maa_(fused)"
	// v6 time_mix_lerp_fused holds maa_w, maa_k, maa_v, maa_r, maa_g.
	ggufV6Fused = [5]string{"att.time_maa_w", "att.time_maa_k", "att.time_maa_v", "att.time_maa_r", "att.time_maa_g"}
)

// splitBlock parses "blk.<i>.<rest>".
func splitBlock(name string) (layer int, rest string, ok bool) {
	s, found := strings.CutPrefix(name, "blk.")
	if !found {
		return 0, "", false
	}
	dot := strings.IndexByte(s, '.')
	if dot <= 0 || dot > 5 {
		return 0, "", false
	}
	for _, c := range s[:dot] {
		if c < '0' || c > '9' {
			return 0, "", false
		}
	}
	if dot > 1 && s[0] == '0' {
		return 0, "", false
	}
	layer, _ = strconv.Atoi(s[:dot])
	return layer, s[dot+1:], true
}

// mapGGUF renames the tensors and reshapes the few that llama.cpp stores
// differently from rwkv.cpp.
func (f *File) mapGGUF(arch string, kv map[string]any, raw []*tensor.Tensor) error {
	headSize, hasHead, err := ggufUint(kv, arch+".wkv.head_size")
	if err != nil {
		return err
	}
	if hasHead {
		if headSize == 0 || headSize > 1<<16 {
			return fmt.Errorf("%s.wkv.head_size is %d", arch, headSize)
		}
		f.Meta[MetaHeadSize] = strconv.FormatUint(headSize, 10)
	}
	if arch == "rwkv7" && !hasHead {
		return fmt.Errorf("rwkv7 GGUF file without %s.wkv.head_size", arch)
	}
	if arch != "rwkv7" {
		rescale, has, err := ggufUint(kv, arch+".rescale_every_n_layers")
		if err != nil {
			return err
		}
		if has {
			if rescale > 1<<16 {
				return fmt.Errorf("%s.rescale_every_n_layers is %d", arch, rescale)
			}
			f.Meta[MetaRescaleEvery] = strconv.FormatUint(rescale, 10)
		}
	}
	names := ggufArchNames[arch]
	for _, t := range raw {
		qn := quoteName(t.Name)
		if to, ok := ggufGlobalNames[t.Name]; ok {
			t.Name = to
			f.Tensors = append(f.Tensors, t)
			continue
		}
		layer, rest, ok := splitBlock(t.Name)
		if !ok {
			return fmt.Errorf("tensor %s is not part of an %s model", qn, arch)
		}
		to, ok := ggufBlockNames[rest]
		if !ok {
			to, ok = names[rest]
		}
		if !ok {
			return fmt.Errorf("tensor %s is not part of an %s model", qn, arch)
		}
		prefix := "blocks." + strconv.Itoa(layer) + "."
		switch {
		case arch == "rwkv7" && layer == 0 && (to == "att.v0" || to == "att.v1" || to == "att.v2"):
			continue // llama.cpp's dummy copies of a0/a1/a2: unused
		case to == ggufV6FusedName:
			// ne (C,1,1,5): five (C) vectors in the order w, k, v, r, g
			if t.Shape[0] != 5 || t.NumElems()%5 != 0 {
				return fmt.Errorf("tensor %s has shape %v, want 5 vectors", qn, t.Shape)
			}
			C := t.NumElems() / 5
			if C%t.DType.BlockElems() != 0 {
				return fmt.Errorf("tensor %s: vectors of %d elements are not whole %s blocks", qn, C, t.DType)
			}
			n := len(t.Data) / 5
			for i, nm := range ggufV6Fused {
				f.Tensors = append(f.Tensors, &tensor.Tensor{Name: prefix + nm, DType: t.DType, Shape: []int{C}, Data: t.Data[i*n : (i+1)*n : (i+1)*n]})
			}
			continue
		case arch == "rwkv7" && to == "att.x_rwkvag":
			if t.Shape[0] != 6 || t.NumElems()%6 != 0 {
				return fmt.Errorf("tensor %s has shape %v, want 6 vectors", qn, t.Shape)
			}
			t.Shape = []int{6, 1, t.NumElems() / 6}
		case arch == "rwkv5" && to == "att.time_first" && t.NumElems() > t.Shape[0]:
			// per channel: the raw time_faaaa of RWKV-5.2 (per head: the
			// exponentiated time_first of 5.0/5.1; both are u as used)
			to = "att.time_faaaa"
		case (arch == "rwkv7" && to == "att.r_k") || (arch == "rwkv6" && to == "att.time_faaaa"):
			// (H, N): llama.cpp flattens r_k; time_first is (N, H) in ne.
			n := t.NumElems()
			if hasHead && len(t.Shape) == 1 {
				if uint64(n)%headSize != 0 {
					return fmt.Errorf("tensor %s has %d elements, not a whole number of heads of %d", qn, n, headSize)
				}
				t.Shape = []int{n / int(headSize), int(headSize)}
			}
			if len(t.Shape) != 2 {
				return fmt.Errorf("tensor %s has shape %v, want (heads, head size)", qn, t.Shape)
			}
		}
		t.Name = prefix + to
		f.Tensors = append(f.Tensors, t)
	}
	return nil
}

// WorldTokens returns the World vocabulary stored in a GGUF file
// (tokenizer.ggml.tokens when tokenizer.ggml.model is "rwkv"), in the
// escaped form tokenizer.NewWorldFromTokens reads; nil when the file has
// none.
func (f *File) WorldTokens() ([]string, error) {
	if f == nil || f.Format != FormatGGUF || f.Meta[metaTokModel] != "rwkv" {
		return nil, nil
	}
	s, ok := f.Meta[metaTokens]
	if !ok {
		return nil, nil
	}
	var toks []string
	if err := json.Unmarshal([]byte(s), &toks); err != nil {
		return nil, fmt.Errorf("%s: tokenizer.ggml.tokens is not a list of strings", f.Path)
	}
	return toks, nil
}
