package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/eval"
	"github.com/rwkv-chat/rwkv-chat/internal/model"
	"github.com/rwkv-chat/rwkv-chat/internal/synth"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
	"github.com/rwkv-chat/rwkv-chat/internal/tokenizer"
)

func runEvalCLI(t *testing.T, in string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(args, &streams{In: strings.NewReader(in), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

// smallSynth writes a small synthetic RWKV-7 model and returns its path.
func smallSynth(t *testing.T, spec synth.Spec) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), spec.Name())
	if err := synth.Write(path, spec); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBenchContextJSONAndPlots(t *testing.T) {
	t.Setenv("RWKV_CHAT_HOME", t.TempDir())
	path := smallSynth(t, synth.Spec{Arch: 7, Layers: 2, Embd: 128, Vocab: 300, HeadSize: 32, Type: tensor.F32})
	dir := t.TempDir()
	pngPath, svgPath := filepath.Join(dir, "ctx.png"), filepath.Join(dir, "ctx.svg")
	code, out, errs := runEvalCLI(t, "", "bench", "--model", path, "--context", "3000", "--json", "--plot", pngPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var last int
	n := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var p struct {
			Position   *int     `json:"position"`
			MsPerToken *float64 `json:"ms_per_token"`
			RSS        *int64   `json:"rss_bytes"`
			KV         *int64   `json:"kv_cache_bytes"`
		}
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if p.Position == nil || p.MsPerToken == nil || p.RSS == nil || p.KV == nil {
			t.Fatalf("line %q lacks a field", sc.Text())
		}
		if *p.Position <= last {
			t.Errorf("position %d after %d", *p.Position, last)
		}
		if *p.MsPerToken <= 0 || *p.KV != 2*2*128*int64(*p.Position)*2 {
			t.Errorf("line %q: bad figures", sc.Text())
		}
		if _, err := os.Stat("/proc/self/status"); err == nil && *p.RSS <= 0 {
			t.Errorf("line %q: no RSS", sc.Text())
		}
		last = *p.Position
		n++
	}
	if n != 12 || last != 3000 { // 1 2 5 10 20 50 100 200 500 1000 2000 3000
		t.Errorf("%d positions, last %d; want 12 ending at 3000:\n%s", n, last, out)
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("%s: %v", pngPath, err)
	}
	if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 300 {
		t.Errorf("PNG is %v", b)
	}

	code, out, errs = runEvalCLI(t, "", "bench", "--model", path, "--context", "100", "--plot", svgPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "position") || !strings.Contains(out, "plot written to") {
		t.Errorf("table output:\n%s", out)
	}
	svg, err := os.ReadFile(svgPath)
	if err != nil || !bytes.Contains(svg, []byte("<svg")) || !bytes.HasSuffix(bytes.TrimSpace(svg), []byte("</svg>")) {
		t.Errorf("SVG %s: %v, %d bytes", svgPath, err, len(svg))
	}
	if code, _, _ := runEvalCLI(t, "", "bench", "--model", path, "--context", "10", "--plot", filepath.Join(dir, "x.gif")); code != exitUsage {
		t.Errorf("--plot x.gif: exit %d, want %d", code, exitUsage)
	}
}

func TestEvalLambadaCLI(t *testing.T) {
	data := testutil.Path(t, "data", "lambada_test.jsonl")
	mpath := testutil.Path(t, "models", "tiny", "tiny-rwkv-7v0-834K-FP32.bin")
	t.Setenv("RWKV_CHAT_HOME", t.TempDir())
	t.Setenv(envData, data)
	code, out, errs := runEvalCLI(t, "", "eval", "lambada", "--model", mpath, "--limit", "40", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got eval.Result
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	var raw map[string]any
	_ = json.Unmarshal([]byte(out), &raw)
	for _, k := range []string{"n", "accuracy", "ppl", "tokens_per_s"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("no %q in %s", k, out)
		}
	}
	docs, err := eval.ReadLambadaFile(data, 40)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Open(mpath, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	want, err := eval.Lambada(m, tokenizer.Bytes(), docs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.N != 40 || got.Correct != want.Correct || got.PPL != want.PPL {
		t.Errorf("CLI %+v, library %+v", got, want)
	}
	if !strings.Contains(errs, "lambada 40/40 docs (100%)") {
		t.Errorf("no final progress line on stderr: %q", errs)
	}
	code, out, _ = runEvalCLI(t, "", "eval", "lambada", "--model", mpath, "--data", data, "--limit", "3")
	if code != 0 || !strings.HasPrefix(out, "lambada: n 3 ") {
		t.Errorf("exit %d, out %q", code, out)
	}
	os.Unsetenv(envData)
	if code, _, errs := runEvalCLI(t, "", "eval", "lambada", "--model", mpath); code != exitUsage || !strings.Contains(errs, envData) {
		t.Errorf("no data: exit %d, %q", code, errs)
	}
}

func TestPerplexityCLIStreamAndContext(t *testing.T) {
	mpath := testutil.Path(t, "models", "tiny", "tiny-rwkv-5v2-730K-FP32.bin")
	t.Setenv("RWKV_CHAT_HOME", t.TempDir())
	text := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 60)
	m, err := model.Open(mpath, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ids := tokenizer.Bytes().Encode([]byte(text))
	for _, ctx := range []int{0, 256} {
		p, _ := eval.NewPerplexity(m, ctx)
		_ = p.Add(ids)
		want, err := p.Result()
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"perplexity", "--model", mpath, "--file", "-", "--json", "--read-size", "1000"}
		if ctx > 0 {
			args = append(args, "--context", "256")
		}
		code, out, errs := runEvalCLI(t, text, args...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		var got perplexityResult
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		if got.Tokens != len(ids) || got.Scored != len(ids)-1 || math.Abs(got.NLL-want.NLL) > 1e-9 {
			t.Errorf("context %d: CLI %+v, library %+v", ctx, got, want)
		}
		if ctx > 0 && (got.Context != 256 || got.Stride != 128 || got.Windows != (len(ids)-256)/128+2) {
			t.Errorf("context %d: windows %+v", ctx, got)
		}
		if !strings.Contains(errs, "perplexity") || !strings.Contains(errs, "tokens scored") {
			t.Errorf("no progress on stderr: %q", errs)
		}
	}
	// --bos scores every token of the text.
	code, out, _ := runEvalCLI(t, text, "perplexity", "--model", mpath, "--file", "-", "--bos", "--json")
	var got perplexityResult
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil || got.Tokens != len(ids) || got.Scored != len(ids) {
		t.Errorf("--bos: exit %d, %q", code, out)
	}
	if code, _, _ := runEvalCLI(t, text, "perplexity", "--model", mpath, "--file", "-", "--context", "1"); code != exitUsage {
		t.Errorf("--context 1: exit %d", code)
	}
}
