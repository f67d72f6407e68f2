package format

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// sharedDir is $RWKV_TESTDATA or ../../../shared (relative to this package).
// ok is false when it does not hold the reference data.
func sharedDir() (string, bool) {
	dir := os.Getenv("RWKV_TESTDATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared")
	}
	_, err1 := os.Stat(filepath.Join(dir, "models", "tiny"))
	_, err2 := os.Stat(filepath.Join(dir, "fixtures"))
	return dir, err1 == nil && err2 == nil
}

func needShared(t testing.TB) string {
	t.Helper()
	dir, ok := sharedDir()
	if !ok {
		t.Skipf("reference data not found in %s (models/tiny and fixtures); set RWKV_TESTDATA to the shared directory", dir)
	}
	return dir
}

func glob(t testing.TB, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	return m
}

// tinyModels lists the rwkv.cpp tiny models (not the expected-logits files).
func tinyModels(t testing.TB) []string {
	return glob(t, filepath.Join(needShared(t), "models", "tiny", "tiny-rwkv-*.bin"))
}

func fixtureDirs(t testing.TB) []string {
	dir := needShared(t)
	var out []string
	for _, d := range glob(t, filepath.Join(dir, "fixtures", "*")) {
		if m, _ := filepath.Glob(filepath.Join(d, "*.pth")); len(m) > 0 {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		t.Fatal("no fixture model directories")
	}
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// within reports whether b lies inside buf (tensor data not copied).
func within(b, buf []byte) bool {
	if len(b) == 0 {
		return true
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	return p >= lo && p+uintptr(len(b)) <= lo+uintptr(len(buf))
}

// endOffset is the offset in buf just after t's data.
func endOffset(t *tensor.Tensor, buf []byte) int {
	return int(uintptr(unsafe.Pointer(unsafe.SliceData(t.Data))) - uintptr(unsafe.Pointer(unsafe.SliceData(buf))) + uintptr(len(t.Data)))
}

// checkConsistent is what a caller relies on after a successful parse.
func checkConsistent(t testing.TB, f *File, buf []byte) {
	t.Helper()
	for _, tt := range f.Tensors {
		if err := tt.Check(); err != nil {
			t.Fatalf("parse succeeded with an inconsistent tensor: %v", err)
		}
		if f.Get(tt.Name) != tt {
			t.Fatalf("Get(%q) does not return the tensor", tt.Name)
		}
	}
}

// checkErr requires a one-line error that starts with the file name.
func checkErr(t testing.TB, err error, name string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") {
		t.Fatalf("error is not one line: %q", msg)
	}
	if !strings.HasPrefix(msg, name+": ") {
		t.Fatalf("error does not start with the file name %q: %q", name, msg)
	}
}

// ---- hand-made files ----

// pk writes pickle opcodes.
type pk struct{ bytes.Buffer }

func (p *pk) op(b ...byte) *pk { p.Write(b); return p }
func (p *pk) proto() *pk       { return p.op(0x80, 2) }
func (p *pk) global(mod, name string) *pk {
	p.WriteByte('c')
	p.WriteString(mod + "\n" + name + "\n")
	return p
}
func (p *pk) str(s string) *pk {
	p.WriteByte('X')
	_ = binary.Write(&p.Buffer, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}
func (p *pk) int(n int) *pk {
	p.WriteByte('J')
	_ = binary.Write(&p.Buffer, binary.LittleEndian, int32(n))
	return p
}
func (p *pk) ints(ns ...int) *pk {
	p.op('(')
	for _, n := range ns {
		p.int(n)
	}
	return p.op('t')
}
func (p *pk) mark() *pk   { return p.op('(') }
func (p *pk) tuple() *pk  { return p.op('t') }
func (p *pk) reduce() *pk { return p.op('R') }
func (p *pk) stop() *pk   { return p.op('.') }
func (p *pk) orderedDict() *pk {
	return p.global("collections", "OrderedDict").op(')').reduce()
}

// tensor emits _rebuild_tensor_v2(storage(key), offset, size, stride, False, OrderedDict()).
func (p *pk) tensor(storageType, key string, numel, offset int, size, stride []int) *pk {
	p.global("torch._utils", "_rebuild_tensor_v2").mark()
	p.mark().str("storage").global("torch", storageType).str(key).str("cpu").int(numel).tuple().op('Q')
	p.int(offset).ints(size...).ints(stride...).op(0x89).orderedDict()
	return p.tuple().reduce()
}

// zipPth builds a torch.save-like archive under dir/ with stored entries:
// data.pkl, data/<key> for each storage ("@name" keys give dir/name), version.
func zipPth(t testing.TB, dir string, pkl []byte, storages map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	add := func(name string, b []byte) {
		fw, err := w.CreateHeader(&zip.FileHeader{Name: dir + "/" + name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	add("data.pkl", pkl)
	for k, b := range storages {
		if rest, ok := strings.CutPrefix(k, "@"); ok { // an entry beside data.pkl
			add(rest, b)
		} else {
			add("data/"+k, b)
		}
	}
	add("version", []byte("3\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ggmlTensor is one tensor of a hand-made rwkv.cpp file; dims in PyTorch order.
type ggmlTensor struct {
	name  string
	typ   uint32
	shape []uint32
	data  []byte
}

func ggmlFile(version, dataType uint32, ts ...ggmlTensor) []byte {
	var b bytes.Buffer
	w := func(v ...uint32) {
		for _, x := range v {
			_ = binary.Write(&b, binary.LittleEndian, x)
		}
	}
	w(ggmlMagic, version, 256, 8, 1, dataType)
	for _, t := range ts {
		w(uint32(len(t.shape)), uint32(len(t.name)), t.typ)
		for i := len(t.shape) - 1; i >= 0; i-- {
			w(t.shape[i])
		}
		b.WriteString(t.name)
		b.Write(t.data)
	}
	return b.Bytes()
}

func safetensorsFile(header string, data []byte) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func f32bytes(vals ...float32) []byte {
	return append([]byte(nil), tensor.Float32Bytes(vals)...)
}
