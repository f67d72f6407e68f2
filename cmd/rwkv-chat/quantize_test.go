package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/format"
	"github.com/rwkv-chat/rwkv-chat/internal/model"
	"github.com/rwkv-chat/rwkv-chat/internal/synth"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
	"github.com/rwkv-chat/rwkv-chat/internal/tokenizer"
)

var quantizeFixtures = []string{"4v0-660K", "5v1-730K", "5v2-730K", "6v0-1m", "7v0-834K"}

func runQuantizeCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(append([]string{"quantize"}, args...), &streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func quantizeEnv(t *testing.T) {
	t.Setenv("RWKV_CHAT_HOME", t.TempDir())
	for _, v := range []string{"RWKV_CHAT_TOKENIZER", "RWKV_CHAT_TYPE", "RWKV_CHAT_FORCE", "RWKV_CHAT_RESCALE", "RWKV_CHAT_NAME", "RWKV_CHAT_NO_TOKENIZER"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
}

// promptLogits runs the fixture prompt through m and returns the logits
// after every token.
func promptLogits(t *testing.T, m *model.Model, prompt []int) []float32 {
	t.Helper()
	m.Chunk = 32
	logits := make([]float32, len(prompt)*m.Cfg.Vocab)
	if err := m.ForwardAll(m.NewState(), prompt, logits); err != nil {
		t.Fatal(err)
	}
	return logits
}

type logitStats struct {
	maxAbs, meanAbs float64
	top1            float64 // fraction of positions with the same argmax
}

func compareLogits(a, b []float32, V int) logitStats {
	var s logitStats
	agree := 0
	for p := 0; p < len(a)/V; p++ {
		ra, rb := a[p*V:(p+1)*V], b[p*V:(p+1)*V]
		ia, ib := 0, 0
		for i := range ra {
			d := math.Abs(float64(ra[i]) - float64(rb[i]))
			s.maxAbs = math.Max(s.maxAbs, d)
			s.meanAbs += d
			if ra[i] > ra[ia] {
				ia = i
			}
			if rb[i] > rb[ib] {
				ib = i
			}
		}
		if ia == ib {
			agree++
		}
	}
	s.meanAbs /= float64(len(a))
	s.top1 = float64(agree) / float64(len(a)/V)
	return s
}

func readPrompt(t *testing.T, m string) []int {
	b, err := os.ReadFile(testutil.Path(t, "fixtures", m, "prompt.bin"))
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int, len(b))
	for i, c := range b {
		ids[i] = int(c)
	}
	return ids
}

func openModel(t *testing.T, path string) *model.Model {
	t.Helper()
	m, err := model.Open(path, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestQuantizeFixtures: every tiny model, from its rwkv.cpp FP32 .bin and
// from its fp32 .pth, converted by `quantize` to GGUF F32, F16, Q8_0 and
// Q4_0 (--force), loads and gives the logits of its source over the
// fixture prompt: F32 within 2e-4, F16 within 0.1, the quantized types
// within mean |Δ| 0.5 and 75% top-1 agreement.
func TestQuantizeFixtures(t *testing.T) {
	quantizeEnv(t)
	testutil.Root(t)
	dir := t.TempDir()
	for _, m := range quantizeFixtures {
		prompt := readPrompt(t, m)
		sources := []string{
			testutil.Path(t, "models", "tiny", "tiny-rwkv-"+m+"-FP32.bin"),
			testutil.Path(t, "fixtures", m, "tiny-rwkv-"+m+"-fp32.pth"),
		}
		for _, src := range sources {
			ref := promptLogits(t, openModel(t, src), prompt)
			for _, c := range []struct {
				typ   string
				check func(logitStats) bool
			}{
				{"f32", func(s logitStats) bool { return s.maxAbs <= 2e-4 }},
				{"f16", func(s logitStats) bool { return s.maxAbs <= 0.1 }},
				{"bf16", func(s logitStats) bool { return s.meanAbs <= 0.5 && s.top1 >= 0.75 }},
				{"q8_0", func(s logitStats) bool { return s.meanAbs <= 0.5 && s.top1 >= 0.75 }},
				{"q4_0", func(s logitStats) bool { return s.meanAbs <= 0.5 && s.top1 >= 0.75 }},
				{"q5_1", func(s logitStats) bool { return s.meanAbs <= 0.5 && s.top1 >= 0.75 }},
				{"q6_k", func(s logitStats) bool { return s.meanAbs <= 0.5 && s.top1 >= 0.75 }},
			} {
				name := fmt.Sprintf("%s/%s/%s", m, filepath.Ext(src)[1:], c.typ)
				out := filepath.Join(dir, strings.ReplaceAll(name, "/", "-")+".gguf")
				code, stdout, stderr := runQuantizeCLI(t, src, out, "--type", c.typ, "--force")
				if code != 0 {
					t.Fatalf("%s: exit %d: %s", name, code, stderr)
				}
				if !strings.HasPrefix(stdout, "wrote "+out) {
					t.Fatalf("%s: stdout %q", name, stdout)
				}
				g := openModel(t, out)
				if g.Format != format.FormatGGUF || g.Cfg.Version != openModel(t, src).Cfg.Version {
					t.Fatalf("%s: format %s version %s", name, g.Format, g.Cfg.Version)
				}
				st := compareLogits(ref, promptLogits(t, g, prompt), g.Cfg.Vocab)
				t.Logf("%-22s max|Δ| %.2e  mean|Δ| %.2e  top-1 %.1f%%  %v", name, st.maxAbs, st.meanAbs, 100*st.top1, g.DTypes())
				if !c.check(st) {
					t.Errorf("%s: logits differ from the source: max|Δ| %.3g, mean|Δ| %.3g, top-1 agreement %.1f%%", name, st.maxAbs, st.meanAbs, 100*st.top1)
				}
			}
		}
	}
}

// TestQuantizeRescale: RWKV-6 GGUF files carry llama.cpp's fp16 rescale
// (att.output and ffn.value of layer i divided by 2^(i/n), and
// rwkv6.rescale_every_n_layers = n); model.Open must halve the residual
// stream after every n layers to give the source's logits.
func TestQuantizeRescale(t *testing.T) {
	quantizeEnv(t)
	src := testutil.Path(t, "fixtures", "6v0-1m", "tiny-rwkv-6v0-1m-fp32.pth")
	prompt := readPrompt(t, "6v0-1m")
	ref := promptLogits(t, openModel(t, src), prompt)
	dir := t.TempDir()
	// The halving is exact but for the LayerNorm ε, which the tiny model's
	// small residual stream feels: 7e-4 with n = 6 (and 0.19 with n = 2,
	// when layer 11 is divided by 32); without the halving the logits are
	// far off.
	for _, c := range []struct {
		n   int
		tol float64
	}{{0, 0}, {6, 2e-3}, {5, 5e-3}} {
		n := c.n
		out := filepath.Join(dir, fmt.Sprintf("r%d.gguf", n))
		if code, _, stderr := runQuantizeCLI(t, src, out, "--type", "f32", "--rescale", fmt.Sprint(n)); code != 0 {
			t.Fatalf("--rescale %d: %s", n, stderr)
		}
		g := openModel(t, out)
		if g.Cfg.RescaleEvery != n {
			t.Fatalf("--rescale %d: model.Open set RescaleEvery %d", n, g.Cfg.RescaleEvery)
		}
		st := compareLogits(ref, promptLogits(t, g, prompt), 256)
		t.Logf("rescale %d: max|Δ| %.2e", n, st.maxAbs)
		if st.maxAbs > c.tol {
			t.Errorf("--rescale %d: max|Δ| %.3g from the source (want ≤ %g)", n, st.maxAbs, c.tol)
		}
		// The weights really are divided: layer 11's att.output is the
		// source's / 2^(11/n).
		f, err := format.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		srcF, err := format.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := f.Get("blocks.11.att.output.weight").Float32s()
		want, _ := srcF.Get("blocks.11.att.output.weight").Float32s()
		div := 1.0
		if n > 0 {
			div = math.Ldexp(1, 11/n)
		}
		for i := range got {
			if float64(got[i]) != float64(want[i])/div {
				t.Fatalf("--rescale %d: att.output[%d] = %g, want %g / %g", n, i, got[i], want[i], div)
			}
		}
		if f.Meta["rwkv6.rescale_every_n_layers"] != fmt.Sprint(n) {
			t.Fatalf("--rescale %d: metadata %q", n, f.Meta["rwkv6.rescale_every_n_layers"])
		}
		// Without the run-time halving the logits are wrong.
		if n > 0 {
			m, err := model.FromTensors(f.Tensors, true, model.Options{})
			if err != nil {
				t.Fatal(err)
			}
			st := compareLogits(ref, promptLogits(t, m, prompt), 256)
			t.Logf("rescale %d without the halving: max|Δ| %.2e", n, st.maxAbs)
			if st.maxAbs < 100*c.tol {
				t.Errorf("--rescale %d: the logits hardly depend on the halving (max|Δ| %.3g)", n, st.maxAbs)
			}
		}
		f.Close()
		srcF.Close()
	}
	// Re-quantizing a rescaled GGUF keeps, or changes, its rescale.
	in := filepath.Join(dir, "r6.gguf")
	for _, c := range []struct {
		flag string
		want int
		tol  float64
	}{{"-1", 6, 2e-3}, {"5", 5, 5e-3}, {"0", 0, 2e-4}} {
		out := filepath.Join(dir, "re"+c.flag+".gguf")
		if code, _, stderr := runQuantizeCLI(t, in, out, "--type", "f32", "--rescale", c.flag); code != 0 {
			t.Fatalf("requantize --rescale %s: %s", c.flag, stderr)
		}
		g := openModel(t, out)
		if g.Cfg.RescaleEvery != c.want {
			t.Fatalf("requantize --rescale %s: RescaleEvery %d, want %d", c.flag, g.Cfg.RescaleEvery, c.want)
		}
		if st := compareLogits(ref, promptLogits(t, g, prompt), 256); st.maxAbs > c.tol {
			t.Errorf("requantize --rescale %s: max|Δ| %.3g", c.flag, st.maxAbs)
		}
	}
}

// TestQuantizeGGUFToGGUF: a GGUF input (rwkv.cpp names after reading)
// converts again, for every version.
func TestQuantizeGGUFToGGUF(t *testing.T) {
	quantizeEnv(t)
	dir := t.TempDir()
	for _, m := range quantizeFixtures {
		src := testutil.Path(t, "fixtures", m, "tiny-rwkv-"+m+"-fp32.pth")
		prompt := readPrompt(t, m)
		ref := promptLogits(t, openModel(t, src), prompt)
		a, b := filepath.Join(dir, m+"-a.gguf"), filepath.Join(dir, m+"-b.gguf")
		if code, _, stderr := runQuantizeCLI(t, src, a, "--type", "f32"); code != 0 {
			t.Fatal(stderr)
		}
		if code, _, stderr := runQuantizeCLI(t, a, b, "--type", "f32"); code != 0 {
			t.Fatal(stderr)
		}
		// the same tensors, bit for bit
		fa, err := format.Open(a)
		if err != nil {
			t.Fatal(err)
		}
		fb, err := format.Open(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(fa.Tensors) != len(fb.Tensors) {
			t.Fatalf("%s: %d tensors, then %d", m, len(fa.Tensors), len(fb.Tensors))
		}
		for i, ta := range fa.Tensors {
			tb := fb.Tensors[i]
			if ta.Name != tb.Name || ta.DType != tb.DType || fmt.Sprint(ta.Shape) != fmt.Sprint(tb.Shape) || !bytes.Equal(ta.Data, tb.Data) {
				t.Fatalf("%s: tensor %s %s %v became %s %s %v", m, ta.Name, ta.DType, ta.Shape, tb.Name, tb.DType, tb.Shape)
			}
		}
		fa.Close()
		fb.Close()
		if st := compareLogits(ref, promptLogits(t, openModel(t, b), prompt), 256); st.maxAbs > 2e-4 {
			t.Errorf("%s: GGUF → GGUF: max|Δ| %.3g", m, st.maxAbs)
		}
	}
}

func TestQuantizeSmallModelPolicy(t *testing.T) {
	quantizeEnv(t)
	src := testutil.Path(t, "models", "tiny", "tiny-rwkv-7v0-834K-FP32.bin")
	dir := t.TempDir()
	out := filepath.Join(dir, "q4.gguf")
	code, _, stderr := runQuantizeCLI(t, src, out, "--type", "q4_0")
	if code != 0 {
		t.Fatal(stderr)
	}
	if !strings.Contains(stderr, "warning") || !strings.Contains(stderr, "--force") {
		t.Errorf("no small-model warning: %q", stderr)
	}
	dts := openModel(t, out).DTypes()
	if dts[tensor.Q4_0] != 0 || dts[tensor.Q8_0] == 0 {
		t.Errorf("small model without --force: matrices %v, want Q8_0", dts)
	}
	code, _, stderr = runQuantizeCLI(t, src, out, "--type", "q4_0", "--force")
	if code != 0 || strings.Contains(stderr, "warning") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	dts = openModel(t, out).DTypes()
	if dts[tensor.Q4_0] == 0 || dts[tensor.Q8_0] != 2 {
		t.Errorf("--force q4_0: matrices %v, want Q4_0 and Q8_0 emb/head", dts)
	}
	// k-quants on rows of 64: llama.cpp's fallbacks, with a note
	code, _, stderr = runQuantizeCLI(t, src, out, "--type", "q4_k", "--force")
	if code != 0 || !strings.Contains(stderr, "with rows of 64 are Q5_0, not Q4_K") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	dts = openModel(t, out).DTypes()
	if dts[tensor.Q4_K] == 0 || dts[tensor.Q5_0] == 0 {
		t.Errorf("--force q4_k: matrices %v, want Q4_K (rows of 256) and Q5_0 (rows of 64)", dts)
	}
}

func TestQuantizeErrors(t *testing.T) {
	quantizeEnv(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.gguf")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"only-one"}, exitUsage, "give the input and the output"},
		{[]string{"a", "b", "--type", "q3_k"}, exitUsage, "unknown --type"},
		{[]string{"a", "b", "--rescale", "-2"}, exitUsage, "--rescale"},
		{[]string{filepath.Join(dir, "missing.pth"), out}, exitError, "missing.pth"},
		{[]string{"a", dir}, exitUsage, "is a directory"},
	} {
		code, _, stderr := runQuantizeCLI(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
	// a byte-level model does not take a World vocabulary
	src := testutil.Path(t, "models", "tiny", "tiny-rwkv-7v0-834K-FP32.bin")
	vocab := testutil.Path(t, "tokenizers", "rwkv_vocab_v20230424.txt")
	code, _, stderr := runQuantizeCLI(t, src, out, "--tokenizer", vocab)
	if code != exitError || !strings.Contains(stderr, "does not fit") {
		t.Errorf("World vocabulary for a 256-token model: exit %d, %q", code, stderr)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("failed runs left files behind: %v", ents)
	}
}

// relErr is mean |a−b| / mean |a|.
func relErr(a, b []float32) float64 {
	var d, n float64
	for i := range a {
		d += math.Abs(float64(a[i]) - float64(b[i]))
		n += math.Abs(float64(a[i]))
	}
	return d / n
}

// TestQuantizeWorldModel: a synthetic RWKV-7 and RWKV-6 with the World
// vocabulary size and rows of 256 (so the k-quants apply): the vocabulary
// goes into the file and comes back as the same tokenizer, the k-quant
// matrices load and stay close to the source.
func TestQuantizeWorldModel(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 130 MB of synthetic models")
	}
	quantizeEnv(t)
	vocab := testutil.Path(t, "tokenizers", "rwkv_vocab_v20230424.txt")
	dir := t.TempDir()
	tokens := []int{33155, 40213, 24281, 59, 4571, 261}
	for _, arch := range []int{6, 7} {
		src := filepath.Join(dir, fmt.Sprintf("world-v%d.bin", arch))
		if err := synth.Write(src, synth.Spec{Arch: arch, Layers: 1, Embd: 256, Vocab: 65536, HeadSize: 64, Type: tensor.F16}); err != nil {
			t.Fatal(err)
		}
		ref := promptLogits(t, openModel(t, src), tokens)

		// no vocabulary anywhere: refused, with the way out
		out := filepath.Join(dir, fmt.Sprintf("v%d.gguf", arch))
		code, _, stderr := runQuantizeCLI(t, src, out)
		if code != exitError || !strings.Contains(stderr, "--no-tokenizer") || !strings.Contains(stderr, "--tokenizer") {
			t.Fatalf("v%d without a vocabulary: exit %d, %q", arch, code, stderr)
		}
		for _, c := range []struct {
			typ string
			tol float64
			k   tensor.DType
		}{{"f16", 0, tensor.F16}, {"q8_0", 0.03, tensor.Q8_0}, {"q6_k", 0.03, tensor.Q6_K}, {"q5_k", 0.04, tensor.Q5_K}, {"q4_k", 0.06, tensor.Q4_K}} {
			code, stdout, stderr := runQuantizeCLI(t, src, out, "--type", c.typ, "--force", "--tokenizer", vocab)
			if code != 0 || !strings.Contains(stdout, "World tokenizer from rwkv_vocab_v20230424.txt") {
				t.Fatalf("v%d %s: exit %d %q %q", arch, c.typ, code, stdout, stderr)
			}
			g := openModel(t, out)
			if dts := g.DTypes(); dts[c.k] == 0 || (c.k.Quantized() && dts[tensor.Q8_0] < 2) {
				t.Fatalf("v%d %s: matrices %v", arch, c.typ, dts)
			}
			e := relErr(ref, promptLogits(t, g, tokens))
			t.Logf("v%d %-5s relative logit error %.4f  %v", arch, c.typ, e, g.DTypes())
			if e > c.tol {
				t.Errorf("v%d %s: relative logit error %.3g > %g", arch, c.typ, e, c.tol)
			}
			toks, err := g.File().WorldTokens()
			if err != nil {
				t.Fatal(err)
			}
			w, err := tokenizer.NewWorldFromTokens(toks)
			if err != nil {
				t.Fatal(err)
			}
			if ids := w.Encode([]byte("User: hi\n\nAssistant:")); fmt.Sprint(ids) != "[24281 59 4571 261 5585 41693 59]" {
				t.Fatalf("v%d %s: the stored tokenizer encodes to %v", arch, c.typ, ids)
			}
			if f := g.File(); f.Meta["tokenizer.chat_template"] != "rwkv-world" || f.Meta["tokenizer.ggml.eot_token_id"] != "261" {
				t.Fatalf("v%d %s: tokenizer metadata %q %q", arch, c.typ, f.Meta["tokenizer.chat_template"], f.Meta["tokenizer.ggml.eot_token_id"])
			}
		}
		// GGUF input: its vocabulary is carried over
		out2 := filepath.Join(dir, fmt.Sprintf("v%d-again.gguf", arch))
		code, stdout, stderr := runQuantizeCLI(t, out, out2, "--type", "q8_0")
		if code != 0 || !strings.Contains(stdout, "World tokenizer from the input") {
			t.Fatalf("v%d GGUF → GGUF: exit %d %q %q", arch, code, stdout, stderr)
		}
		if f := openModel(t, out2).File(); f.Meta["general.name"] != fmt.Sprintf("world-v%d", arch) || f.Meta["tokenizer.chat_template"] != "rwkv-world" {
			t.Fatalf("v%d GGUF → GGUF: name %q, template %q", arch, f.Meta["general.name"], f.Meta["tokenizer.chat_template"])
		}
		// found through $RWKV_CHAT_TOKENIZER; --no-tokenizer writes none
		t.Setenv("RWKV_CHAT_TOKENIZER", vocab)
		if code, stdout, stderr := runQuantizeCLI(t, src, out, "--type", "f16"); code != 0 || !strings.Contains(stdout, "World tokenizer") {
			t.Fatalf("v%d via $RWKV_CHAT_TOKENIZER: exit %d %q %q", arch, code, stdout, stderr)
		}
		os.Unsetenv("RWKV_CHAT_TOKENIZER")
		if code, _, stderr := runQuantizeCLI(t, src, out, "--type", "f16", "--no-tokenizer"); code != 0 {
			t.Fatalf("v%d --no-tokenizer: %q", arch, stderr)
		}
		if toks, _ := openModel(t, out).File().WorldTokens(); toks != nil {
			t.Fatalf("v%d --no-tokenizer stored %d tokens", arch, len(toks))
		}
	}
}
