package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/rwkv-chat/rwkv-chat/internal/synth"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
	"github.com/rwkv-chat/rwkv-chat/internal/tokenizer"
)

// ---------------------------------------------------------------------
// An independent GGUF parser (ggml docs/gguf.md), written from the spec
// with encoding/binary and sharing nothing with gguf.go, to check that the
// files the writer produces are what other GGUF readers expect.

type indepTensor struct {
	name string
	ne   []uint64
	typ  uint32
	off  uint64
}

type indepGGUF struct {
	version    uint32
	kv         map[string]any
	keys       []string
	tensors    []indepTensor
	headerEnd  int64
	dataStart  int64
	fileLength int64
}

// indepTypeSize: ggml type id → (block elements, block bytes).
var indepTypeSize = map[uint32][2]uint64{
	0: {1, 4}, 1: {1, 2}, 2: {32, 18}, 3: {32, 20}, 6: {32, 22}, 7: {32, 24}, 8: {32, 34},
	12: {256, 144}, 13: {256, 176}, 14: {256, 210}, 30: {1, 2},
}

func indepParse(b []byte) (*indepGGUF, error) {
	r := bytes.NewReader(b)
	rd := func(v any) error { return binary.Read(r, binary.LittleEndian, v) }
	str := func() (string, error) {
		var n uint64
		if err := rd(&n); err != nil {
			return "", err
		}
		if n > uint64(r.Len()) {
			return "", fmt.Errorf("string of %d bytes", n)
		}
		s := make([]byte, n)
		_, err := io.ReadFull(r, s)
		return string(s), err
	}
	var value func(typ uint32) (any, error)
	value = func(typ uint32) (any, error) {
		switch typ {
		case 0:
			var v uint8
			return v, rd(&v)
		case 1:
			var v int8
			return v, rd(&v)
		case 2:
			var v uint16
			return v, rd(&v)
		case 3:
			var v int16
			return v, rd(&v)
		case 4:
			var v uint32
			return v, rd(&v)
		case 5:
			var v int32
			return v, rd(&v)
		case 6:
			var v float32
			return v, rd(&v)
		case 7:
			var v uint8
			err := rd(&v)
			if v > 1 {
				return nil, fmt.Errorf("bool %d", v)
			}
			return v == 1, err
		case 8:
			return str()
		case 9:
			var et uint32
			var n uint64
			if err := rd(&et); err != nil {
				return nil, err
			}
			if err := rd(&n); err != nil {
				return nil, err
			}
			if n > uint64(r.Len()) {
				return nil, fmt.Errorf("array of %d", n)
			}
			arr := make([]any, n)
			for i := range arr {
				v, err := value(et)
				if err != nil {
					return nil, err
				}
				arr[i] = v
			}
			return arr, nil
		case 10:
			var v uint64
			return v, rd(&v)
		case 11:
			var v int64
			return v, rd(&v)
		case 12:
			var v float64
			return v, rd(&v)
		}
		return nil, fmt.Errorf("value type %d", typ)
	}

	var magic [4]byte
	if err := rd(&magic); err != nil || string(magic[:]) != "GGUF" {
		return nil, fmt.Errorf("magic %q", magic)
	}
	g := &indepGGUF{kv: map[string]any{}, fileLength: int64(len(b))}
	var nt, nkv uint64
	if err := rd(&g.version); err != nil {
		return nil, err
	}
	if err := rd(&nt); err != nil {
		return nil, err
	}
	if err := rd(&nkv); err != nil {
		return nil, err
	}
	for i := uint64(0); i < nkv; i++ {
		k, err := str()
		if err != nil {
			return nil, err
		}
		var typ uint32
		if err := rd(&typ); err != nil {
			return nil, err
		}
		v, err := value(typ)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", k, err)
		}
		if _, dup := g.kv[k]; dup {
			return nil, fmt.Errorf("key %s twice", k)
		}
		g.kv[k] = v
		g.keys = append(g.keys, k)
	}
	for i := uint64(0); i < nt; i++ {
		var ti indepTensor
		var err error
		if ti.name, err = str(); err != nil {
			return nil, err
		}
		var nd uint32
		if err := rd(&nd); err != nil {
			return nil, err
		}
		if nd == 0 || nd > 4 {
			return nil, fmt.Errorf("tensor %s: %d dims", ti.name, nd)
		}
		ti.ne = make([]uint64, nd)
		if err := rd(ti.ne); err != nil {
			return nil, err
		}
		if err := rd(&ti.typ); err != nil {
			return nil, err
		}
		if err := rd(&ti.off); err != nil {
			return nil, err
		}
		g.tensors = append(g.tensors, ti)
	}
	g.headerEnd = int64(len(b)) - int64(r.Len())
	align := int64(32)
	if a, ok := g.kv["general.alignment"]; ok {
		u, isU32 := a.(uint32)
		if !isU32 {
			return nil, fmt.Errorf("general.alignment is %T", a)
		}
		align = int64(u)
	}
	g.dataStart = (g.headerEnd + align - 1) / align * align
	return g, nil
}

func (t *indepTensor) bytes() (uint64, error) {
	ts, ok := indepTypeSize[t.typ]
	if !ok {
		return 0, fmt.Errorf("type %d", t.typ)
	}
	n := uint64(1)
	for _, d := range t.ne {
		n *= d
	}
	if t.ne[0]%ts[0] != 0 {
		return 0, fmt.Errorf("ne[0] %d not a multiple of %d", t.ne[0], ts[0])
	}
	return n / ts[0] * ts[1], nil
}

// checkLayout verifies the GGUF spec's layout rules on a whole file.
func (g *indepGGUF) checkLayout(b []byte) error {
	if g.version != 3 {
		return fmt.Errorf("version %d", g.version)
	}
	if a, _ := g.kv["general.alignment"].(uint32); a != 32 {
		return fmt.Errorf("general.alignment %v", g.kv["general.alignment"])
	}
	for _, c := range b[g.headerEnd:g.dataStart] {
		if c != 0 {
			return errors.New("non-zero padding before the data section")
		}
	}
	next := uint64(0)
	for _, t := range g.tensors {
		if len(t.name) >= 64 {
			return fmt.Errorf("tensor name %s is longer than ggml's 63 characters", t.name)
		}
		if t.off%32 != 0 {
			return fmt.Errorf("tensor %s: offset %d not aligned", t.name, t.off)
		}
		if t.off != next {
			return fmt.Errorf("tensor %s: offset %d, want %d (packed in order)", t.name, t.off, next)
		}
		n, err := t.bytes()
		if err != nil {
			return fmt.Errorf("tensor %s: %w", t.name, err)
		}
		end := uint64(g.dataStart) + t.off + n
		if end > uint64(len(b)) {
			return fmt.Errorf("tensor %s runs past the end", t.name)
		}
		next = (t.off + n + 31) / 32 * 32
		for _, c := range b[end:min(uint64(len(b)), uint64(g.dataStart)+next)] {
			if c != 0 {
				return fmt.Errorf("tensor %s: non-zero padding", t.name)
			}
		}
	}
	if want := g.dataStart + int64(next); want != int64(len(b)) {
		return fmt.Errorf("file is %d bytes, the tensors end at %d", len(b), want)
	}
	return nil
}

// llamaTensors is the tensor set llama.cpp's loader creates for an rwkv6
// or rwkv7 model (llama-model.cpp load_arch_tensors), as ne with trailing
// ones dropped; it refuses files with other tensors or other shapes.
func llamaTensors(arch string, kv map[string]any) (map[string][]uint64, error) {
	u := func(k string) uint64 {
		switch v := kv[arch+"."+k].(type) {
		case uint32:
			return uint64(v)
		}
		return 0
	}
	C, L, F, N := u("embedding_length"), u("block_count"), u("feed_forward_length"), u("wkv.head_size")
	if C == 0 || L == 0 || F == 0 || N == 0 {
		return nil, fmt.Errorf("missing %s dimensions in the metadata", arch)
	}
	toks, _ := kv["tokenizer.ggml.tokens"].([]any)
	V := uint64(len(toks))
	out := map[string][]uint64{
		"token_embd.weight": {C, V}, "token_embd_norm.weight": {C}, "token_embd_norm.bias": {C},
		"output_norm.weight": {C}, "output_norm.bias": {C}, "output.weight": {C, V},
	}
	for i := uint64(0); i < L; i++ {
		p := fmt.Sprintf("blk.%d.", i)
		add := func(n string, ne ...uint64) { out[p+n] = ne }
		add("attn_norm.weight", C)
		add("attn_norm.bias", C)
		add("attn_norm_2.weight", C)
		add("attn_norm_2.bias", C)
		add("time_mix_key.weight", C, C)
		add("time_mix_value.weight", C, C)
		add("time_mix_receptance.weight", C, C)
		add("time_mix_ln.weight", C)
		add("time_mix_ln.bias", C)
		add("time_mix_output.weight", C, C)
		add("channel_mix_lerp_k.weight", C)
		add("channel_mix_key.weight", C, F)
		add("channel_mix_value.weight", F, C)
		switch arch {
		case "rwkv6":
			D, Dd := u("time_mix_extra_dim"), u("time_decay_extra_dim")
			add("time_mix_w1.weight", C, 5*D)
			add("time_mix_w2.weight", D, C, 5)
			add("time_mix_lerp_x.weight", C)
			add("time_mix_lerp_fused.weight", C, 1, 1, 5)
			add("time_mix_first.weight", N, C/N)
			add("time_mix_decay.weight", C)
			add("time_mix_decay_w1.weight", C, Dd)
			add("time_mix_decay_w2.weight", Dd, C)
			add("time_mix_gate.weight", C, C)
			add("channel_mix_lerp_r.weight", C)
			add("channel_mix_receptance.weight", C, C)
		case "rwkv7":
			Dw, Da, Dv, Dg := u("attention.decay_lora_rank"), u("attention.iclr_lora_rank"), u("attention.value_residual_mix_lora_rank"), u("attention.gate_lora_rank")
			if i == 0 {
				Dv = Da
			}
			add("time_mix_w0.weight", C)
			add("time_mix_w1.weight", C, Dw)
			add("time_mix_w2.weight", Dw, C)
			add("time_mix_a0.weight", C)
			add("time_mix_a1.weight", C, Da)
			add("time_mix_a2.weight", Da, C)
			add("time_mix_v0.weight", C)
			add("time_mix_v1.weight", C, Dv)
			add("time_mix_v2.weight", Dv, C)
			add("time_mix_g1.weight", C, Dg)
			add("time_mix_g2.weight", Dg, C)
			add("time_mix_lerp_fused.weight", C, 1, 1, 6)
			add("time_mix_k_k.weight", C)
			add("time_mix_k_a.weight", C)
			add("time_mix_r_k.weight", C)
		}
	}
	return out, nil
}

func trimOnes(ne []uint64) []uint64 {
	for len(ne) > 1 && ne[len(ne)-1] == 1 {
		ne = ne[:len(ne)-1]
	}
	return ne
}

// ---------------------------------------------------------------------
// Sources.

// ggufSources returns model files to convert: the shared tiny models when
// present, and synthetic ones written here (so the tests run without the
// shared data too).
func ggufSources(t *testing.T) []string {
	t.Helper()
	var out []string
	if dir, ok := sharedDir(); ok {
		for _, m := range []string{"4v0-660K", "5v1-730K", "5v2-730K", "6v0-1m", "7v0-834K"} {
			for _, p := range []string{
				filepath.Join(dir, "fixtures", m, "tiny-rwkv-"+m+"-fp32.pth"),
				filepath.Join(dir, "fixtures", m, "tiny-rwkv-"+m+"-bf16.safetensors"),
				filepath.Join(dir, "models", "tiny", "tiny-rwkv-"+m+"-FP16.bin"),
			} {
				if _, err := os.Stat(p); err == nil {
					out = append(out, p)
				}
			}
		}
	}
	tmp := t.TempDir()
	for _, arch := range []int{4, 5, 6, 7} {
		p := filepath.Join(tmp, fmt.Sprintf("synth-v%d.bin", arch))
		if err := synth.Write(p, synth.Spec{Arch: arch, Layers: 2, Embd: 256, Vocab: 300, HeadSize: 64, Type: tensor.F16}); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// fakeTokens is a GGUF token list of n entries: "<s>", the escaped single
// bytes, then padding.
func fakeTokens(n int) []string {
	toks := make([]string, n)
	toks[0] = "<s>"
	for i := 1; i < n; i++ {
		if i <= 256 {
			toks[i] = tokenizer.EscapeGGUFToken([]byte{byte(i - 1)})
		} else {
			toks[i] = fmt.Sprintf("[PAD%d]", i)
		}
	}
	return toks
}

func planBytes(t *testing.T, src *File, opt GGUFOptions) ([]byte, *GGUFPlan) {
	t.Helper()
	p, err := PlanGGUF(src, opt)
	if err != nil {
		t.Fatalf("%s: %v", src.Path, err)
	}
	var buf bytes.Buffer
	if err := WriteGGUF(&buf, p.KV, p.Tensors); err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != p.Bytes() {
		t.Fatalf("Bytes() = %d, wrote %d", p.Bytes(), buf.Len())
	}
	return buf.Bytes(), p
}

// ---------------------------------------------------------------------
// Writer tests.

// TestGGUFWriterLayout: files written from every source and type parse
// with the independent parser, follow the GGUF layout rules, carry the
// metadata llama.cpp reads, hold exactly the tensors llama.cpp's loader
// creates for rwkv6/rwkv7 (with its shapes), and read back through Parse
// to the source's values.
func TestGGUFWriterLayout(t *testing.T) {
	for _, path := range ggufSources(t) {
		src, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		V := src.Get("emb.weight").Shape[0]
		for _, dt := range []tensor.DType{tensor.F32, tensor.F16, tensor.Q8_0, tensor.Q4_K, tensor.Q6_K} {
			name := filepath.Base(path) + "/" + dt.String()
			b, plan := planBytes(t, src, GGUFOptions{Type: dt, Tokens: fakeTokens(V)})
			g, err := indepParse(b)
			if err != nil {
				t.Fatalf("%s: independent parser: %v", name, err)
			}
			if err := g.checkLayout(b); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			arch, _ := g.kv["general.architecture"].(string)
			if arch != plan.Arch || g.kv[arch+".block_count"] != uint32(plan.Layers) || g.kv[arch+".embedding_length"] != uint32(plan.Embd) {
				t.Fatalf("%s: metadata %v", name, g.kv)
			}
			if g.kv["tokenizer.ggml.model"] != "rwkv" || g.kv["tokenizer.chat_template"] != "rwkv-world" || g.kv["tokenizer.ggml.eot_token_id"] != uint32(261) {
				t.Fatalf("%s: tokenizer metadata", name)
			}
			if toks, _ := g.kv["tokenizer.ggml.tokens"].([]any); len(toks) != V || toks[1] != `\x00` {
				t.Fatalf("%s: %d tokens", name, len(toks))
			}
			if arch == "rwkv6" || arch == "rwkv7" {
				want, err := llamaTensors(arch, g.kv)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if len(want) != len(g.tensors) {
					t.Errorf("%s: %d tensors, llama.cpp creates %d", name, len(g.tensors), len(want))
				}
				for _, ti := range g.tensors {
					ne, ok := want[ti.name]
					if !ok {
						t.Fatalf("%s: tensor %s is not one llama.cpp loads", name, ti.name)
					}
					if !slices.Equal(trimOnes(ti.ne), trimOnes(ne)) {
						t.Fatalf("%s: tensor %s has ne %v, llama.cpp wants %v", name, ti.name, ti.ne, ne)
					}
				}
			}
			// Read back: the same model, pointing into the buffer.
			f, err := Parse(name, b)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if f.Format != FormatGGUF || !f.Transformed || f.Meta[MetaArchitecture] != arch {
				t.Fatalf("%s: format %s transformed %v arch %s", name, f.Format, f.Transformed, f.Meta[MetaArchitecture])
			}
			for _, tt := range f.Tensors {
				if !ggufWithin(tt.Data, b) {
					t.Fatalf("%s: %s was copied", name, tt.Name)
				}
			}
			toks, err := f.WorldTokens()
			if err != nil || !slices.Equal(toks, fakeTokens(V)) {
				t.Fatalf("%s: WorldTokens %d, %v", name, len(toks), err)
			}
			if dt == tensor.F32 {
				compareToSource(t, name, src, f)
			}
		}
		src.Close()
	}
}

func ggufWithin(b, buf []byte) bool {
	if len(b) == 0 {
		return true
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	return p >= lo && p+uintptr(len(b)) <= lo+uintptr(len(buf))
}

// compareToSource checks an F32 GGUF read back against the canonical form
// of its source, value by value.
func compareToSource(t *testing.T, name string, src, f *File) {
	t.Helper()
	_, canon, err := canonicalize(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range canon {
		if _, rest, ok := blockOf(c.name); ok && strings.HasPrefix(c.name, "blocks.0.") && (rest == "att.v0" || rest == "att.v1" || rest == "att.v2") {
			continue
		}
		got := f.Get(c.name)
		if got == nil {
			t.Fatalf("%s: %s missing after the round trip", name, c.name)
		}
		want, err := c.floats()
		if err != nil {
			t.Fatal(err)
		}
		have, err := got.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(want, have) {
			t.Fatalf("%s: %s changed in the round trip", name, c.name)
		}
		if c.numel() != got.NumElems() {
			t.Fatalf("%s: %s shape %v, source %v", name, c.name, got.Shape, c.shape)
		}
	}
	if a, b := len(canon), len(f.Tensors); a != b {
		// RWKV-7 sources may carry layer-0 v0/v1/v2 that are dropped
		if f.Meta[MetaArchitecture] != "rwkv7" {
			t.Fatalf("%s: %d tensors, source %d", name, b, a)
		}
	}
}

func TestGGUFWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "m.bin")
	if err := synth.Write(src, synth.Spec{Arch: 7, Layers: 1, Embd: 64, Vocab: 256, HeadSize: 64, Type: tensor.F32}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := PlanGGUF(f, GGUFOptions{Type: tensor.Q8_0})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.gguf")
	if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// a failing check leaves the old file and no temporary file
	err = p.WriteFile(out, func(tmp string) error {
		if _, err := os.Stat(tmp); err != nil {
			t.Errorf("check: %v", err)
		}
		return errors.New("refused")
	})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("error %v", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "old" {
		t.Fatalf("the old file was replaced")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("files left: %v", ents)
	}
	if err := p.WriteFile(out, nil); err != nil {
		t.Fatal(err)
	}
	g, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
}

// ---------------------------------------------------------------------
// Reader tests on hand-made files.

// rawGGUF assembles a GGUF file from parts, valid or not.
type rawGGUF struct {
	version uint32
	nT, nKV *uint64 // override the counts
	kv      bytes.Buffer
	nkv     uint64
	infos   bytes.Buffer
	nt      uint64
	data    bytes.Buffer
	align   int
}

func newRaw() *rawGGUF { return &rawGGUF{version: 3, align: 32} }

func le(v ...any) []byte {
	var b bytes.Buffer
	for _, x := range v {
		_ = binary.Write(&b, binary.LittleEndian, x)
	}
	return b.Bytes()
}

func gstr(s string) []byte { return append(le(uint64(len(s))), s...) }

func (g *rawGGUF) kvRaw(key string, typ uint32, val []byte) *rawGGUF {
	g.kv.Write(gstr(key))
	g.kv.Write(le(typ))
	g.kv.Write(val)
	g.nkv++
	return g
}
func (g *rawGGUF) kvStr(key, v string) *rawGGUF { return g.kvRaw(key, 8, gstr(v)) }
func (g *rawGGUF) kvU32(key string, v uint32) *rawGGUF {
	return g.kvRaw(key, 4, le(v))
}
func (g *rawGGUF) kvStrs(key string, vs []string) *rawGGUF {
	b := le(uint32(8), uint64(len(vs)))
	for _, s := range vs {
		b = append(b, gstr(s)...)
	}
	return g.kvRaw(key, 9, b)
}

// tensor adds a tensor (ne in ggml order) with its data, padded.
func (g *rawGGUF) tensor(name string, typ uint32, ne []uint64, data []byte) *rawGGUF {
	off := uint64(g.data.Len())
	return g.tensorAt(name, typ, ne, off, data)
}

func (g *rawGGUF) tensorAt(name string, typ uint32, ne []uint64, off uint64, data []byte) *rawGGUF {
	g.infos.Write(gstr(name))
	g.infos.Write(le(uint32(len(ne))))
	g.infos.Write(le(ne))
	g.infos.Write(le(typ, off))
	g.nt++
	g.data.Write(data)
	for g.data.Len()%g.align != 0 {
		g.data.WriteByte(0)
	}
	return g
}

// f32s adds an F32 tensor of n values 0, 1, 2, … (times scale).
func (g *rawGGUF) f32s(name string, scale float32, ne ...uint64) *rawGGUF {
	n := uint64(1)
	for _, d := range ne {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i) * scale
	}
	return g.tensor(name, 0, ne, f32bytes(v...))
}

func (g *rawGGUF) bytes() []byte {
	nt, nkv := g.nt, g.nkv
	if g.nT != nil {
		nt = *g.nT
	}
	if g.nKV != nil {
		nkv = *g.nKV
	}
	b := append([]byte("GGUF"), le(g.version, nt, nkv)...)
	b = append(b, g.kv.Bytes()...)
	b = append(b, g.infos.Bytes()...)
	for len(b)%g.align != 0 {
		b = append(b, 0)
	}
	return append(b, g.data.Bytes()...)
}

// rawV7 is a tiny llama.cpp-style rwkv7 file: C = 8, head size 4, one
// layer, with the layer-0 dummies and the fused/flattened tensors.
func rawV7() *rawGGUF {
	g := newRaw().kvStr("general.architecture", "rwkv7").kvU32("rwkv7.wkv.head_size", 4).
		kvU32("general.alignment", 32).kvStr("tokenizer.ggml.model", "rwkv").
		kvStrs("tokenizer.ggml.tokens", []string{"<s>", "a", `\n`, "[PAD3]"})
	g.f32s("token_embd.weight", 1, 8, 4)
	g.f32s("blk.0.time_mix_lerp_fused.weight", 1, 8, 1, 1, 6)
	g.f32s("blk.0.time_mix_r_k.weight", 1, 8)
	g.f32s("blk.0.time_mix_v0.weight", 1, 8)
	g.f32s("blk.0.time_mix_v1.weight", 1, 8, 2)
	g.f32s("blk.0.time_mix_v2.weight", 1, 2, 8)
	g.f32s("blk.0.time_mix_a1.weight", 1, 8, 2)
	g.f32s("blk.0.channel_mix_lerp_k.weight", 1, 8, 1, 1)
	g.f32s("blk.0.time_mix_ln.bias", 1, 8)
	g.f32s("output.weight", 1, 8, 4)
	return g
}

func TestGGUFReadLlamaNames(t *testing.T) {
	b := rawV7().bytes()
	f, err := Parse("v7.gguf", b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int{
		"emb.weight":             {4, 8},
		"blocks.0.att.x_rwkvag":  {6, 1, 8},
		"blocks.0.att.r_k":       {2, 4},
		"blocks.0.att.a1":        {2, 8},
		"blocks.0.ffn.x_k":       {1, 1, 8},
		"blocks.0.att.ln_x.bias": {8},
		"head.weight":            {4, 8},
	}
	if len(f.Tensors) != len(want) {
		var names []string
		for _, tt := range f.Tensors {
			names = append(names, tt.Name)
		}
		t.Fatalf("tensors %v", names)
	}
	for n, shape := range want {
		tt := f.Get(n)
		if tt == nil || !slices.Equal(tt.Shape, shape) {
			t.Fatalf("%s: %v, want shape %v", n, tt, shape)
		}
		if !ggufWithin(tt.Data, b) || uintptr(unsafe.Pointer(unsafe.SliceData(tt.Data)))%32 != uintptr(unsafe.Pointer(unsafe.SliceData(b)))%32 {
			t.Fatalf("%s: data copied or misaligned", n)
		}
	}
	if f.Meta[MetaArchitecture] != "rwkv7" || f.Meta[MetaHeadSize] != "4" || f.Meta[MetaGGUFVersion] != "3" || f.Meta[MetaAlignment] != "32" {
		t.Fatalf("meta %v", f.Meta)
	}
	toks, err := f.WorldTokens()
	if err != nil || !slices.Equal(toks, []string{"<s>", "a", `\n`, "[PAD3]"}) {
		t.Fatalf("tokens %q %v", toks, err)
	}

	// rwkv6: lerp_fused splits in the order w, k, v, r, g (views of the
	// mmap); time_mix_first (ne N, H) becomes (H, N); the rescale is kept.
	g := newRaw().kvStr("general.architecture", "rwkv6").kvU32("rwkv6.wkv.head_size", 4).
		kvU32("rwkv6.rescale_every_n_layers", 6)
	g.f32s("blk.3.time_mix_lerp_fused.weight", 1, 8, 1, 1, 5)
	g.f32s("blk.3.time_mix_first.weight", 1, 4, 2)
	g.f32s("blk.3.time_mix_w2.weight", 1, 32, 8, 5)
	g.f32s("blk.3.time_mix_lerp_x.weight", 1, 8)
	b = g.bytes()
	f, err = Parse("v6.gguf", b)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range []string{"w", "k", "v", "r", "g"} {
		tt := f.Get("blocks.3.att.time_maa_" + n)
		v, _ := tt.Float32s()
		if tt == nil || len(v) != 8 || v[0] != float32(8*i) || !ggufWithin(tt.Data, b) {
			t.Fatalf("time_maa_%s: %v", n, v)
		}
	}
	if tt := f.Get("blocks.3.att.time_faaaa"); tt == nil || !slices.Equal(tt.Shape, []int{2, 4}) {
		t.Fatalf("time_faaaa %v", tt)
	}
	if tt := f.Get("blocks.3.att.time_maa_w2"); tt == nil || !slices.Equal(tt.Shape, []int{5, 8, 32}) {
		t.Fatalf("time_maa_w2 %v", tt)
	}
	if f.Meta[MetaRescaleEvery] != "6" || f.Meta["rwkv6.rescale_every_n_layers"] != "6" {
		t.Fatalf("rescale meta %v", f.Meta)
	}
	if toks, err := f.WorldTokens(); toks != nil || err != nil {
		t.Fatalf("tokens without a vocabulary: %v %v", toks, err)
	}
	// separate lerp tensors (older llama.cpp files) are read too
	g = newRaw().kvStr("general.architecture", "rwkv6")
	for _, n := range []string{"w", "k", "v", "r", "g"} {
		g.f32s("blk.0.time_mix_lerp_"+n+".weight", 1, 8)
	}
	if f, err = Parse("v6b.gguf", g.bytes()); err != nil || f.Get("blocks.0.att.time_maa_g") == nil {
		t.Fatalf("separate lerp tensors: %v", err)
	}
}

func TestGGUFMetadataTypes(t *testing.T) {
	g := newRaw().kvStr("general.architecture", "rwkv7").kvU32("rwkv7.wkv.head_size", 4)
	g.kvRaw("u8", 0, le(uint8(200))).kvRaw("i8", 1, le(int8(-5))).kvRaw("u16", 2, le(uint16(60000)))
	g.kvRaw("i16", 3, le(int16(-300))).kvRaw("i32", 5, le(int32(-7))).kvRaw("f32", 6, le(float32(1.5)))
	g.kvRaw("bool", 7, []byte{1}).kvRaw("u64", 10, le(uint64(1)<<40)).kvRaw("i64", 11, le(int64(-1)<<40))
	g.kvRaw("f64", 12, le(0.25)).kvRaw("nan", 6, le(float32(math.NaN())))
	g.kvRaw("arr", 9, append(le(uint32(5), uint64(3)), le(int32(1), int32(-2), int32(3))...))
	nested := le(uint32(9), uint64(2))
	for i := 0; i < 2; i++ {
		nested = append(nested, le(uint32(6), uint64(2), float32(i), float32(0.5))...)
	}
	g.kvRaw("nested", 9, nested)
	g.kvRaw("farr", 9, append(le(uint32(6), uint64(2)), le(float32(math.Inf(1)), float32(2))...))
	g.f32s("blk.0.time_mix_k_k.weight", 1, 8)
	f, err := Parse("meta.gguf", g.bytes())
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"u8": "200", "i8": "-5", "u16": "60000", "i16": "-300", "i32": "-7", "f32": "1.5", "bool": "true",
		"u64": "1099511627776", "i64": "-1099511627776", "f64": "0.25", "nan": "NaN", "arr": "[1,-2,3]",
		"nested": "[[0,0.5],[1,0.5]]", "farr": `["+Inf",2]`,
	} {
		if f.Meta[k] != want {
			t.Errorf("Meta[%s] = %q, want %q", k, f.Meta[k], want)
		}
	}
}

// TestGGUFRefusals: damaged and unsupported files give one-line errors,
// before anything large is allocated.
func TestGGUFRefusals(t *testing.T) {
	u64 := func(v uint64) *uint64 { return &v }
	cases := map[string]struct {
		b    []byte
		want string
	}{}
	add := func(name string, b []byte, want string) {
		cases[name] = struct {
			b    []byte
			want string
		}{b, want}
	}

	for arch, want := range map[string]string{"llama": "not an RWKV model", "rwkv6qwen2": "not supported", "arwkv7": "not supported", "mamba": "not an RWKV model"} {
		g := newRaw().kvStr("general.architecture", arch)
		g.f32s("blk.0.attn_norm.weight", 1, 8)
		add("arch "+arch, g.bytes(), want)
	}
	g := newRaw()
	g.f32s("token_embd.weight", 1, 8)
	add("no architecture", g.bytes(), "without general.architecture")
	g = rawV7()
	g.version = 1
	add("version 1", g.bytes(), "version 1")
	g = rawV7()
	g.version = 3 << 24
	add("big-endian", g.bytes(), "big-endian")
	g = rawV7()
	g.version = 4
	add("version 4", g.bytes(), "version 4")
	// a 4 GB string
	g = newRaw().kvRaw("general.architecture", 8, le(uint64(4)<<30))
	add("4 GB string", g.bytes(), "length 4294967296")
	g = newRaw().kvStr("general.architecture", "rwkv7").kvRaw("x", 8, le(uint64(1)<<62))
	add("huge string", g.bytes(), "more than the 14 allowed")
	// 2^31 tensors, 2^40 metadata pairs, a 2^60-element array
	g = rawV7()
	g.nT = u64(1 << 31)
	add("2^31 tensors", g.bytes(), "tensors")
	g = rawV7()
	g.nKV = u64(1 << 40)
	add("2^40 pairs", g.bytes(), "metadata pairs")
	g = newRaw().kvStr("general.architecture", "rwkv7").kvRaw("a", 9, le(uint32(0), uint64(1)<<60))
	add("huge array", g.bytes(), "cannot fit")
	g = newRaw().kvStr("general.architecture", "rwkv7").kvRaw("a", 9, le(uint32(77), uint64(1)))
	add("array of unknown type", g.bytes(), "unknown array element type")
	g = newRaw().kvStr("general.architecture", "rwkv7").kvRaw("a", 13, nil)
	add("unknown value type", g.bytes(), "unknown value type")
	nest := le(uint32(9), uint64(1), uint32(9), uint64(1), uint32(9), uint64(1), uint32(9), uint64(1), uint32(0), uint64(0))
	g = newRaw().kvStr("general.architecture", "rwkv7").kvRaw("deep", 9, nest)
	add("deep arrays", g.bytes(), "nested")
	g = newRaw().kvStr("general.architecture", "rwkv7").kvRaw("b", 7, []byte{2})
	add("bad bool", g.bytes(), "bool")
	g = rawV7().kvStr("general.architecture", "rwkv6")
	add("duplicate key", g.bytes(), "twice")
	// tensors
	base := func() *rawGGUF {
		return newRaw().kvStr("general.architecture", "rwkv7").kvU32("rwkv7.wkv.head_size", 4)
	}
	add("shape overflow", base().tensor("token_embd.weight", 0, []uint64{1 << 32, 1 << 32, 1 << 32}, nil).bytes(), "")
	add("zero dim", base().tensor("token_embd.weight", 0, []uint64{0, 4}, nil).bytes(), "dimension 0 is 0")
	add("five dims", base().tensor("token_embd.weight", 0, []uint64{1, 1, 1, 1, 1}, nil).bytes(), "5 dimensions")
	add("offset past the file", base().tensorAt("token_embd.weight", 0, []uint64{8}, 1<<40, make([]byte, 32)).bytes(), "past the end")
	add("data past the file", base().tensorAt("token_embd.weight", 0, []uint64{1 << 20}, 0, make([]byte, 32)).bytes(), "past the end")
	add("misaligned offset", base().tensorAt("token_embd.weight", 0, []uint64{8}, 4, make([]byte, 64)).bytes(), "not a multiple of the alignment")
	add("Q2_K", base().tensor("token_embd.weight", 10, []uint64{256}, make([]byte, 96)).bytes(), "Q2_K")
	add("unknown type", base().tensor("token_embd.weight", 99, []uint64{8}, make([]byte, 32)).bytes(), "unknown ggml type 99")
	add("partial block", base().tensor("token_embd.weight", 8, []uint64{16}, make([]byte, 32)).bytes(), "whole number")
	add("unknown tensor", base().f32s("blk.0.time_mix_lerp_x.weight", 1, 8).bytes(), "not part of an rwkv7 model")
	add("not a block", base().f32s("foo.weight", 1, 8).bytes(), "not part of an rwkv7 model")
	add("duplicate tensor", base().f32s("output.weight", 1, 8).f32s("output.weight", 1, 8).bytes(), "twice")
	add("no tensors", base().bytes(), "no tensors")
	add("bad alignment", newRaw().kvStr("general.architecture", "rwkv7").kvU32("general.alignment", 24).bytes(), "power of two")
	add("string alignment", newRaw().kvStr("general.architecture", "rwkv7").kvStr("general.alignment", "32").bytes(), "power of two")
	add("no head size", newRaw().kvStr("general.architecture", "rwkv7").f32s("blk.0.time_mix_r_k.weight", 1, 8).bytes(), "head_size")
	add("r_k not heads", newRaw().kvStr("general.architecture", "rwkv7").kvU32("rwkv7.wkv.head_size", 3).f32s("blk.0.time_mix_r_k.weight", 1, 8).bytes(), "whole number of heads")
	add("v6 fused of 4", newRaw().kvStr("general.architecture", "rwkv6").f32s("blk.0.time_mix_lerp_fused.weight", 1, 8, 1, 1, 4).bytes(), "want 5 vectors")
	add("negative rescale", newRaw().kvStr("general.architecture", "rwkv6").kvRaw("rwkv6.rescale_every_n_layers", 5, le(int32(-1))).f32s("output.weight", 1, 8).bytes(), "non-negative")
	add("layer index", base().f32s("blk.01.time_mix_w0.weight", 1, 8).bytes(), "not part")

	for name, c := range cases {
		_, err := Parse("bad.gguf", c.b)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		msg := err.Error()
		if strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "bad.gguf: ") || !strings.Contains(msg, c.want) {
			t.Errorf("%s: error %q, want one line containing %q", name, msg, c.want)
		}
	}
}

// TestGGUFTruncated: every prefix of a valid file is refused cleanly.
func TestGGUFTruncated(t *testing.T) {
	b := rawV7().bytes()
	for n := 0; n < len(b); n++ {
		f, err := Parse("cut.gguf", b[:n])
		if err == nil {
			// only the padding after the last tensor may be cut
			if n < len(b)-32 {
				t.Fatalf("prefix of %d bytes (of %d) accepted with %d tensors", n, len(b), len(f.Tensors))
			}
			continue
		}
		if strings.ContainsAny(err.Error(), "\n\r") {
			t.Fatalf("prefix %d: %q", n, err)
		}
	}
}

// FuzzOpenGGUF: no input makes the reader panic, allocate without bound or
// return tensors outside the input.
func FuzzOpenGGUF(f *testing.F) {
	f.Add(rawV7().bytes())
	f.Add(newRaw().kvStr("general.architecture", "rwkv6").kvU32("rwkv6.wkv.head_size", 4).
		f32s("blk.0.time_mix_lerp_fused.weight", 1, 8, 1, 1, 5).f32s("blk.0.time_mix_first.weight", 1, 4, 2).bytes())
	// a produced file (a minute synthetic RWKV-7 at Q8_0 with tokens)
	dir := f.TempDir()
	p := filepath.Join(dir, "s.bin")
	if err := synth.Write(p, synth.Spec{Arch: 7, Layers: 1, Embd: 32, Vocab: 8, HeadSize: 32, Type: tensor.F16}); err != nil {
		f.Fatal(err)
	}
	src, err := Open(p)
	if err != nil {
		f.Fatal(err)
	}
	plan, err := PlanGGUF(src, GGUFOptions{Type: tensor.Q8_0, Tokens: fakeTokens(8)})
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteGGUF(&buf, plan.KV, plan.Tensors); err != nil {
		f.Fatal(err)
	}
	src.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		pf, err := Parse("fuzz.gguf", data)
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "fuzz.gguf: ") {
				t.Fatalf("bad error %q", msg)
			}
			return
		}
		for _, tt := range pf.Tensors {
			if err := tt.Check(); err != nil {
				t.Fatal(err)
			}
			if !ggufWithin(tt.Data, data) {
				t.Fatalf("%s is not in the input", tt.Name)
			}
			if pf.Get(tt.Name) != tt {
				t.Fatalf("Get(%s)", tt.Name)
			}
		}
		_, _ = pf.WorldTokens()
	})
}
