package format

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

func TestDetect(t *testing.T) {
	for _, c := range []struct {
		head string
		want string
	}{
		{"fmgg\x65\x00\x00\x00", FormatRWKVCpp},
		{"GGUF\x03\x00\x00\x00", FormatGGUF},
		{"PK\x03\x04\x00\x00", FormatPth},
		{"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":1}", FormatSafetensors},
		{"\x10\x00\x00\x00\x00\x00\x00\x00  {", FormatSafetensors},
		{"\x10\x00\x00\x00\x00\x00\x00\x00[", ""},
		{"\x10\x00\x00\x00\x00\x00\x01\x00{", ""}, // absurd header length
		{"\x80\x02\x8a\x0a", ""},                  // legacy torch pickle
		{"fmg", ""},
		{"", ""},
	} {
		if got := Detect([]byte(c.head)); got != c.want {
			t.Errorf("Detect(%q) = %q, want %q", c.head, got, c.want)
		}
	}
}

// tinyDims are the header values of the rwkv.cpp tiny models (spec §14.1).
var tinyDims = map[string]struct{ layers, embed int }{
	"4v0-660K": {4, 128}, "5v1-730K": {12, 64}, "5v2-730K": {12, 64},
	"6v0-1m": {12, 64}, "6v0-3m": {12, 128}, "7v0-834K": {12, 64},
}

func TestTinyBin(t *testing.T) {
	for _, path := range tinyModels(t) {
		base := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "tiny-rwkv-"), ".bin")
		cut := strings.LastIndexByte(base, '-')
		model, kind := base[:cut], base[cut+1:]
		t.Run(base, func(t *testing.T) {
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			dims, ok := tinyDims[model]
			if !ok {
				t.Fatalf("unknown tiny model %s", model)
			}
			wantDT := map[string]tensor.DType{"FP32": tensor.F32, "FP16": tensor.F16, "Q5_0": tensor.Q5_0, "Q5_1": tensor.Q5_1}[kind]
			wantID := map[string]string{"FP32": "0", "FP16": "1", "Q5_0": "7", "Q5_1": "8"}[kind]
			if f.Format != FormatRWKVCpp || !f.Transformed {
				t.Errorf("Format %q Transformed %v", f.Format, f.Transformed)
			}
			wantMeta := map[string]string{"n_vocab": "256", "n_embed": strconv.Itoa(dims.embed), "n_layer": strconv.Itoa(dims.layers), "data_type": wantID}
			for k, v := range wantMeta {
				if f.Meta[k] != v {
					t.Errorf("Meta[%s] = %q, want %q", k, f.Meta[k], v)
				}
			}
			if v := f.Meta["file_version"]; v != "100" && v != "101" {
				t.Errorf("file_version %q", v)
			}
			C := dims.embed
			for _, c := range []struct {
				name  string
				shape []int
				dt    tensor.DType
			}{
				{"emb.weight", []int{256, C}, map[bool]tensor.DType{true: tensor.F32, false: tensor.F16}[wantDT != tensor.F16]},
				{"head.weight", []int{256, C}, map[bool]tensor.DType{true: tensor.F32, false: tensor.F16}[wantDT != tensor.F16]},
				{"blocks.0.att.key.weight", []int{C, C}, wantDT},
				{"blocks.0.ln1.weight", []int{C}, tensor.F32},
				{"ln_out.bias", []int{C}, tensor.F32},
			} {
				tt := f.Get(c.name)
				if tt == nil {
					t.Errorf("%s missing", c.name)
					continue
				}
				if !reflect.DeepEqual(tt.Shape, c.shape) || tt.DType != c.dt {
					t.Errorf("%s: %v %s, want %v %s", c.name, tt.Shape, tt.DType, c.shape, c.dt)
				}
			}
			layers := 0
			for _, tt := range f.Tensors {
				if strings.HasSuffix(tt.Name, ".ln1.weight") {
					layers++
				}
			}
			if layers != dims.layers {
				t.Errorf("%d layers of tensors, want %d", layers, dims.layers)
			}
			if strings.HasPrefix(model, "7v0") {
				if x := f.Get("blocks.1.att.x_rwkvag"); x == nil || !reflect.DeepEqual(x.Shape, []int{6, 1, C}) {
					t.Errorf("x_rwkvag: %+v", x)
				}
			}
			if f.Get("no.such.tensor") != nil {
				t.Error("Get of a missing name is not nil")
			}
		})
	}
}

// The fixtures were converted from the FP32 .bin files: tensors the converter
// left alone must be byte-identical across the formats, with ggml's dims
// reversed into PyTorch order.
func TestBinMatchesPth(t *testing.T) {
	dir := needShared(t)
	for _, fx := range fixtureDirs(t) {
		model := filepath.Base(fx)
		bin, err := Open(filepath.Join(dir, "models", "tiny", "tiny-rwkv-"+model+"-FP32.bin"))
		if err != nil {
			t.Fatal(err)
		}
		pth, err := Open(filepath.Join(fx, "tiny-rwkv-"+model+"-fp32.pth"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"emb.weight", "head.weight", "blocks.1.att.key.weight", "blocks.1.ffn.value.weight", "ln_out.weight"} {
			a, b := bin.Get(name), pth.Get(name)
			if a == nil || b == nil {
				t.Errorf("%s: %s missing", model, name)
				continue
			}
			if !reflect.DeepEqual(a.Shape, b.Shape) || !bytes.Equal(a.Data, b.Data) {
				t.Errorf("%s %s: .bin %v and .pth %v differ", model, name, a.Shape, b.Shape)
			}
		}
		bin.Close()
		pth.Close()
	}
}

func TestFixtures(t *testing.T) {
	for _, fx := range fixtureDirs(t) {
		model := filepath.Base(fx)
		t.Run(model, func(t *testing.T) {
			open := func(prec, ext string) *File {
				path := filepath.Join(fx, "tiny-rwkv-"+model+"-"+prec+"."+ext)
				f, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { f.Close() })
				want := map[string]string{"pth": FormatPth, "safetensors": FormatSafetensors}[ext]
				if f.Format != want || f.Transformed {
					t.Errorf("%s: Format %q Transformed %v", path, f.Format, f.Transformed)
				}
				wantDT := map[string]tensor.DType{"fp32": tensor.F32, "bf16": tensor.BF16}[prec]
				for _, tt := range f.Tensors {
					if tt.DType != wantDT {
						t.Fatalf("%s: %s is %s, want %s", path, tt.Name, tt.DType, wantDT)
					}
				}
				if f.Get("emb.weight") == nil || f.Get("head.weight") == nil {
					t.Errorf("%s: emb/head missing", path)
				}
				return f
			}
			for _, prec := range []string{"fp32", "bf16"} {
				p, s := open(prec, "pth"), open(prec, "safetensors")
				if len(p.Tensors) != len(s.Tensors) {
					t.Fatalf("%s: .pth has %d tensors, .safetensors %d", prec, len(p.Tensors), len(s.Tensors))
				}
				for i, a := range p.Tensors {
					b := s.Tensors[i]
					if a.Name != b.Name || a.DType != b.DType || !reflect.DeepEqual(a.Shape, b.Shape) || !bytes.Equal(a.Data, b.Data) {
						t.Fatalf("%s tensor #%d: .pth %s %v %s, .safetensors %s %v %s (data equal %v)", prec, i,
							a.Name, a.Shape, a.DType, b.Name, b.Shape, b.DType, bytes.Equal(a.Data, b.Data))
					}
				}
				if s.Meta["format"] != "pt" {
					t.Errorf("safetensors __metadata__ not read: %v", s.Meta)
				}
			}
			// bf16 files are the fp32 values rounded to nearest even.
			f32, b16 := open("fp32", "pth"), open("bf16", "pth")
			for i, a := range f32.Tensors {
				fa, _ := a.Float32s()
				hb := tensor.AsUint16(b16.Tensors[i].Data)
				for j, v := range fa {
					if tensor.F32ToBF16(v) != hb[j] {
						t.Fatalf("%s[%d]: bf16 %#04x is not fp32 %g rounded", a.Name, j, hb[j], v)
					}
				}
			}
		})
	}
}

// Stored .pth entries are sliced from the mapping, not copied.
func TestPthNoCopy(t *testing.T) {
	fx := fixtureDirs(t)[0]
	path := glob(t, filepath.Join(fx, "*-fp32.pth"))[0]
	buf := readFile(t, path)
	f, err := Parse(path, buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range f.Tensors {
		if !within(tt.Data, buf) {
			t.Fatalf("%s was copied", tt.Name)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		path, want string
	}{
		{filepath.Join(dir, "missing.bin"), "no such file"},
		{dir, "not a regular file"},
		{write("empty.bin", nil), "empty file"},
		{write("text.bin", []byte("hello world, not a model")), "unknown file format"},
		{write("legacy.pth", []byte("\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.")), "legacy (non-zip) PyTorch"},
		{write("model.gguf", []byte("GGUF\x03\x00\x00\x00")), "GGUF"},
		{write("model.pth", ggmlFile(101, 0)), ""}, // content decides, not the name
	} {
		f, err := Open(c.path)
		if c.want == "" {
			if err != nil || f.Format != FormatRWKVCpp {
				t.Errorf("%s: %v", c.path, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%s) = %v, want an error containing %q", c.path, err, c.want)
		}
		checkErr(t, err, c.path)
	}
}

func TestBinErrors(t *testing.T) {
	ok := ggmlTensor{"a.weight", 0, []uint32{2, 3}, make([]byte, 24)}
	q5 := ggmlTensor{"q.weight", 7, []uint32{1, 32}, make([]byte, 22)}
	for _, c := range []struct {
		name string
		file []byte
		want string
	}{
		{"good", ggmlFile(101, 0, ok, q5), ""},
		{"v100 float", ggmlFile(100, 1, ok), ""},
		{"version", ggmlFile(102, 0, ok), "unsupported rwkv.cpp file version 102"},
		{"v100 quantized header", ggmlFile(100, 7, ok), "version 100"},
		{"v100 quantized tensor", ggmlFile(100, 0, q5), "q.weight: quantized tensor in an rwkv.cpp file of version 100"},
		{"obsolete header", ggmlFile(101, 5, ok), "obsolete ggml type 5"},
		{"obsolete tensor", ggmlFile(101, 0, ggmlTensor{"x", 4, []uint32{32}, make([]byte, 20)}), "tensor x: obsolete ggml type 4"},
		{"unknown tensor", ggmlFile(101, 0, ggmlTensor{"x", 42, []uint32{32}, nil}), "unknown ggml type 42"},
		{"kquant", ggmlFile(101, 0, ggmlTensor{"x", 12, []uint32{256}, nil}), "unsupported ggml type 12"},
		{"5 dims", ggmlFile(101, 0, ggmlTensor{"x", 0, []uint32{1, 1, 1, 1, 1}, make([]byte, 4)}), "5 dimensions"},
		{"zero dim", ggmlFile(101, 0, ggmlTensor{"x", 0, []uint32{0, 1}, nil}), "dimension"},
		{"no name", ggmlFile(101, 0, ggmlTensor{"", 0, []uint32{1}, make([]byte, 4)}), "name length 0"},
		{"partial block", ggmlFile(101, 0, ggmlTensor{"x", 7, []uint32{2, 16}, make([]byte, 22)}), "rows of 16 elements are not a whole number of Q5_0 blocks (32)"},
		{"duplicate", ggmlFile(101, 0, ok, ok), "a.weight appears twice"},
		{"truncated data", ggmlFile(101, 0, ggmlTensor{"blocks.3.att.key.weight", 0, []uint32{2, 3}, make([]byte, 20)}),
			"truncated: tensor blocks.3.att.key.weight needs 24 bytes at offset 67, file has 87"},
		{"truncated header", ggmlFile(101, 0, ok)[:30], "truncated: the header of tensor #0 needs 12 bytes at offset 24, file has 30"},
		{"odd name", ggmlFile(101, 0, ggmlTensor{"a\nb", 0, []uint32{2}, nil}), `tensor "a\nb" needs 8 bytes`},
	} {
		f, err := Parse("model.bin", c.file)
		checkErr(t, err, "model.bin")
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			} else {
				checkConsistent(t, f, c.file)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	// Reversed dims: ne = (3, 2) on disk is PyTorch shape (2, 3).
	f, err := Parse("m.bin", ggmlFile(101, 0, ok))
	if err != nil || !reflect.DeepEqual(f.Tensors[0].Shape, []int{2, 3}) {
		t.Fatalf("shape %v, %v", f.Tensors[0].Shape, err)
	}
	if raw := ggmlFile(101, 0, ok); binary.LittleEndian.Uint32(raw[36:]) != 3 {
		t.Fatal("helper does not write ggml order")
	}
}

func TestSafetensorsErrors(t *testing.T) {
	d := f32bytes(1, 2, 3, 4, 5, 6)
	for _, c := range []struct {
		name, header string
		data         []byte
		want         string
	}{
		{"good", `{"__metadata__":{"k":"v","n":3},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"s":{"dtype":"F16","shape":[],"data_offsets":[24,26]}}`, append(d, 0, 0x3c), ""},
		{"dtype", `{"a":{"dtype":"I64","shape":[3],"data_offsets":[0,24]}}`, d, "tensor a has dtype I64; only F32, F16 and BF16 are supported"},
		{"span", `{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,24]}}`, d, "span 24 bytes, shape [2 2] of F32 needs 16"},
		{"beyond", `{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[8,32]}}`, d, "truncated: tensor a needs 24 bytes"},
		{"negative", `{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, d, "invalid shape"},
		{"offsets", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, d, "data_offsets has 1 entries"},
		{"dup", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, d, "names a twice"},
		{"json", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},`, d, "safetensors header"},
		{"trailing", `{}{}`, d, "data after the JSON object"},
		{"not object", `{"a":[1]}`, d, "tensor a"},
	} {
		file := safetensorsFile(c.header, c.data)
		f, err := Parse("x.safetensors", file)
		checkErr(t, err, "x.safetensors")
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			checkConsistent(t, f, file)
			if f.Meta["k"] != "v" || f.Meta["n"] != "3" || len(f.Tensors) != 2 || f.Tensors[1].Name != "s" {
				t.Errorf("%s: %+v", c.name, f)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	big := make([]byte, 16)
	binary.LittleEndian.PutUint64(big, 200<<20)
	big[8] = '{'
	if _, err := Parse("x.safetensors", big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("huge header: %v", err)
	}
	short := make([]byte, 16)
	binary.LittleEndian.PutUint64(short, 1000)
	short[8] = '{'
	if _, err := Parse("x.safetensors", short); err == nil || !strings.Contains(err.Error(), "truncated: the safetensors JSON header needs 1000 bytes at offset 8, file has 16") {
		t.Errorf("short header: %v", err)
	}
}

func TestPthHandMade(t *testing.T) {
	st := map[string][]byte{"0": f32bytes(0, 1, 2, 3, 4, 5, 6, 7), "1": {0x80, 0x3f, 0, 0x40}}
	// A 2x3 contiguous view at offset 2, a transposed (non-contiguous) 3x2
	// view, a bf16 vector wrapped in _rebuild_parameter, and a scalar.
	body := func(p *pk) *pk {
		p.mark()
		p.str("a").tensor("FloatStorage", "0", 8, 2, []int{2, 3}, []int{3, 1})
		p.str("t").tensor("FloatStorage", "0", 8, 0, []int{3, 2}, []int{1, 3})
		p.str("b").global("torch._utils", "_rebuild_parameter").mark()
		p.tensor("BFloat16Storage", "1", 2, 0, []int{2}, []int{1}).op(0x88).orderedDict().tuple().reduce()
		p.str("s").tensor("FloatStorage", "0", 8, 7, nil, nil)
		return p.op('u')
	}
	want := map[string]struct {
		shape []int
		dt    tensor.DType
		vals  []float32
	}{
		"a": {[]int{2, 3}, tensor.F32, []float32{2, 3, 4, 5, 6, 7}},
		"t": {[]int{3, 2}, tensor.F32, []float32{0, 3, 1, 4, 2, 5}},
		"b": {[]int{2}, tensor.BF16, []float32{1, 2}},
		"s": {[]int{}, tensor.F32, []float32{7}},
	}
	check := func(label string, pkl []byte) {
		t.Helper()
		file := zipPth(t, "archive", pkl, st)
		f, err := Parse("x.pth", file)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		checkConsistent(t, f, file)
		if len(f.Tensors) != 4 || f.Tensors[0].Name != "a" || f.Tensors[3].Name != "s" {
			t.Fatalf("%s: order %v", label, f.Tensors)
		}
		for name, w := range want {
			tt := f.Get(name)
			v, err := tt.Float32s()
			if err != nil || tt.DType != w.dt || !reflect.DeepEqual(tt.Shape, w.shape) || !reflect.DeepEqual(v, w.vals) {
				t.Errorf("%s: %s = %v %s %v (%v), want %+v", label, name, tt.Shape, tt.DType, v, err, w)
			}
		}
		if !within(f.Get("a").Data, file) || within(f.Get("t").Data, file) {
			t.Errorf("%s: contiguous view copied or strided view not copied", label)
		}
	}
	// OrderedDict, plain dict, {"state_dict": ...}.
	check("OrderedDict", body(new(pk).proto().orderedDict()).stop().Bytes())
	check("dict", body(new(pk).proto().op('}')).stop().Bytes())
	inner := body(new(pk).proto().op('}').str("state_dict").op('}')).op('s').stop().Bytes()
	check("state_dict", inner)
}

func TestPthRefusals(t *testing.T) {
	st := map[string][]byte{"0": f32bytes(1, 2, 3, 4)}
	ten := func(p *pk) *pk { return p.tensor("FloatStorage", "0", 4, 0, []int{4}, []int{1}) }
	for _, c := range []struct {
		name string
		pkl  []byte
		want string
	}{
		{"os.system", new(pk).proto().global("os", "system").str("echo hi").op(0x85).reduce().stop().Bytes(),
			`x.pth: pickle: pickle references forbidden global "os system"`},
		{"builtins.eval", new(pk).proto().op('}').global("builtins", "eval").stop().Bytes(), `forbidden global "builtins eval"`},
		{"stack global", new(pk).proto().op(0x8c, 5).op([]byte("torch")...).op(0x8c, 4).op([]byte("load")...).op(0x93).stop().Bytes(),
			`forbidden global "torch load"`},
		{"preconverted", ten(new(pk).proto().op('}').mark().str("emb.weight")).str("_strategy").str("cpu fp32").op('u').stop().Bytes(),
			"ChatRWKV pre-converted file (key _strategy)"},
		{"storage too big", new(pk).proto().op('}').str("a").tensor("FloatStorage", "0", 5, 0, []int{5}, []int{1}).op('s').stop().Bytes(),
			"storage 0 declares 5 F32 elements (20 bytes) but its entry has 16 bytes"},
		{"view beyond", new(pk).proto().op('}').str("a").tensor("FloatStorage", "0", 4, 1, []int{4}, []int{1}).op('s').stop().Bytes(),
			"reaches element 4 of a storage of 4"},
		{"stride overflow", new(pk).proto().op('}').str("a").tensor("FloatStorage", "0", 4, 0, []int{1 << 30, 1 << 30}, []int{1 << 30, 1 << 30}).op('s').stop().Bytes(),
			"tensor a:"},
		{"missing storage", new(pk).proto().op('}').str("a").tensor("FloatStorage", "9", 4, 0, []int{4}, []int{1}).op('s').stop().Bytes(),
			"archive has no entry archive/data/9"},
		{"double storage", new(pk).proto().op('}').str("a").tensor("DoubleStorage", "0", 4, 0, []int{4}, []int{1}).op('s').stop().Bytes(),
			`forbidden global "torch DoubleStorage"`},
		{"not a tensor", new(pk).proto().op('}').str("a").int(3).op('s').stop().Bytes(), "entry a is a int, not a tensor"},
		{"not a dict", new(pk).proto().op(']').stop().Bytes(), "holds a list"},
		{"no stop", new(pk).proto().op('}').Bytes(), "missing STOP"},
		{"underflow", new(pk).proto().op('s').stop().Bytes(), "stack underflow"},
		{"mark underflow", new(pk).proto().op('}').mark().op('0', '0').stop().Bytes(), "stack underflow"},
		{"bad memo", new(pk).proto().op('h', 7).stop().Bytes(), "memo key 7 not defined"},
		{"unhashable key", new(pk).proto().op('}', ']', 'N', 's').stop().Bytes(), "dictionary key of type list"},
		{"reduce list", new(pk).proto().op(']', ')', 'R').stop().Bytes(), "REDUCE calls a list"},
		{"opcode", new(pk).proto().op('i').stop().Bytes(), "unsupported opcode 0x69"},
		{"long", new(pk).proto().op(0x8a, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9).stop().Bytes(), "integer of 9 bytes"},
	} {
		_, err := Parse("x.pth", zipPth(t, "archive", c.pkl, st))
		checkErr(t, err, "x.pth")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	// Stack and memo limits.
	deep := new(pk).proto()
	for i := 0; i < maxMarks+1; i++ {
		deep.mark()
	}
	if _, err := unpickle(deep.stop().Bytes()); err == nil || !strings.Contains(err.Error(), "nested MARKs") {
		t.Errorf("deep marks: %v", err)
	}
	wide := new(pk).proto().op('N')
	for i := 0; i < maxStack; i++ {
		wide.op('2')
	}
	if _, err := unpickle(wide.stop().Bytes()); err == nil || !strings.Contains(err.Error(), "stack grows beyond") {
		t.Errorf("wide stack: %v", err)
	}
	memo := new(pk).proto().op('N')
	for i := 0; i <= maxMemo; i++ {
		memo.op('r')
		_ = binary.Write(&memo.Buffer, binary.LittleEndian, uint32(i))
	}
	if _, err := unpickle(memo.stop().Bytes()); err == nil || !strings.Contains(err.Error(), "memo grows beyond") {
		t.Errorf("memo: %v", err)
	}
}

func TestPthArchiveErrors(t *testing.T) {
	pkl := new(pk).proto().op('}').stop().Bytes()
	good := zipPth(t, "m", pkl, nil)
	if f, err := Parse("x.pth", good); err != nil || len(f.Tensors) != 0 {
		t.Fatalf("empty state dict: %v", err)
	}
	if _, err := Parse("x.pth", zipPth(t, "m", []byte("x"), nil)); err == nil || !strings.Contains(err.Error(), "pickle:") {
		t.Errorf("bad pickle: %v", err)
	}
	big := zipPth(t, "m", pkl, map[string][]byte{"@byteorder": []byte("big")})
	if _, err := Parse("x.pth", big); err == nil || !strings.Contains(err.Error(), "byteorder big") {
		t.Errorf("big-endian: %v", err)
	}
	noPkl := zipPth(t, "m", pkl, nil)
	noPkl = bytes.ReplaceAll(noPkl, []byte("m/data.pkl"), []byte("m/data.xyz"))
	if _, err := Parse("x.pth", noPkl); err == nil || !strings.Contains(err.Error(), "without data.pkl") {
		t.Errorf("no data.pkl: %v", err)
	}
}

// Pickles written by CPython's pickle (protocols 2 and 4) for
// {"state_dict": OrderedDict(a, t, p)} with stand-ins for the torch callables
// and OrderedDict._metadata set (so it ends in BUILD), as state_dict() does:
// a = 2x3 view at offset 2, t = its transposed 3x2 view, p = a Parameter of
// 4 elements at offset 4, all of storage "0" holding 0..7.
var cpythonPickles = map[string]string{
	"protocol 2": "80027d7100580a00000073746174655f64696374710163636f6c6c656374696f6e730a4f726465726564446963740a71022952710328580100000061710463746f7263682e5f7574696c730a5f72656275696c645f74656e736f725f76320a71052828580700000073746f72616765710663746f7263680a466c6f617453746f726167650a71075801000000307108580300000063707571094b0874710a514b024b024b0386710b4b034b0186710c8968022952710d74710e52710f58010000007471106805282868066807680868094b08747111514b004b034b028671124b014b0386711389680229527114747115527116580100000070711763746f7263682e5f7574696c730a5f72656275696c645f706172616d657465720a71186805282868066807680868094b08747119514b044b0485711a4b0185711b8968022952711c74711d52711e8868022952711f877120527121757d712258090000005f6d657461646174617123680229527124580000000071257d7126580700000076657273696f6e71274b0173737362732e",
	"protocol 4": "8004954b010000000000007d948c0a73746174655f64696374948c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c0161948c0c746f7263682e5f7574696c73948c125f72656275696c645f74656e736f725f763294939428288c0773746f72616765948c05746f726368948c0c466c6f617453746f726167659493948c0130948c03637075944b087494514b024b024b0386944b034b018694896804295294749452948c01749468092828680a680d680e680f4b087494514b004b034b0286944b014b038694896804295294749452948c01709468078c125f72656275696c645f706172616d6574657294939468092828680a680d680e680f4b087494514b044b0485944b0185948968042952947494529488680429529487945294757d948c095f6d657461646174619468042952948c00947d948c0776657273696f6e944b0173737362732e",
}

func TestPthCPythonPickles(t *testing.T) {
	for label, h := range cpythonPickles {
		pkl, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse("x.pth", zipPth(t, "archive", pkl, map[string][]byte{"0": f32bytes(0, 1, 2, 3, 4, 5, 6, 7)}))
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		got := map[string][]float32{}
		for _, tt := range f.Tensors {
			got[tt.Name], _ = tt.Float32s()
		}
		want := map[string][]float32{"a": {2, 3, 4, 5, 6, 7}, "t": {0, 3, 1, 4, 2, 5}, "p": {4, 5, 6, 7}}
		if !reflect.DeepEqual(got, want) || len(f.Tensors) != 3 || f.Tensors[2].Name != "p" {
			t.Errorf("%s: %v", label, got)
		}
	}
}
