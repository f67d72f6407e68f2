package main

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
)

// runCLI runs the command line in-process and returns exit code, stdout
// and stderr.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	s := &streams{In: strings.NewReader(stdin), Out: &out, Err: &errb}
	code := execute(args, s)
	return code, out.String(), errb.String()
}

// expectOneLineError checks a failed load: exit code 1 and one line on
// stderr that names the file.
func expectOneLineError(t *testing.T, path, what string) {
	t.Helper()
	code, _, stderr := runCLI(t, "", "info", "--model", path)
	if code != exitError {
		t.Fatalf("%s: exit code %d, want 1 (stderr %q)", what, code, stderr)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, path) {
		t.Fatalf("%s: want one line naming %s, got %q", what, path, stderr)
	}
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBrokenFiles: truncated, wrong magic, wrong shape, unknown dtype,
// missing tensor, malformed pickle — one clear line and exit code 1.
func TestBrokenFiles(t *testing.T) {
	bin, err := os.ReadFile(testutil.Path(t, "models", "tiny", "tiny-rwkv-5v2-730K-FP16.bin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{0, 3, 10, 23, 24, 30, 100, 1000, len(bin) / 2, len(bin) - 1} {
		expectOneLineError(t, writeTemp(t, "cut.bin", bin[:cut]), "truncated .bin")
	}
	bad := append([]byte(nil), bin...)
	bad[0] ^= 0xff
	expectOneLineError(t, writeTemp(t, "magic.bin", bad), "wrong magic")
	// The first tensor's type field (after the 24-byte header: n_dims, key_len, type).
	bad = append([]byte(nil), bin...)
	binary.LittleEndian.PutUint32(bad[24+8:], 5)
	expectOneLineError(t, writeTemp(t, "dtype.bin", bad), "obsolete dtype")
	binary.LittleEndian.PutUint32(bad[24+8:], 77)
	expectOneLineError(t, writeTemp(t, "dtype2.bin", bad), "unknown dtype")

	st, err := os.ReadFile(testutil.Path(t, "fixtures", "7v0-834K", "tiny-rwkv-7v0-834K-fp32.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(st)
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(st[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	rewrite := func(edit func(map[string]json.RawMessage)) []byte {
		h := map[string]json.RawMessage{}
		for k, v := range hdr {
			h[k] = v
		}
		edit(h)
		js, _ := json.Marshal(h)
		for len(js)%8 != 0 {
			js = append(js, ' ')
		}
		out := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
		out = append(out, js...)
		return append(out, st[8+n:]...)
	}
	shape := rewrite(func(h map[string]json.RawMessage) {
		var e map[string]any
		json.Unmarshal(h["blocks.3.att.key.weight"], &e)
		e["shape"] = []int{32, 128}
		h["blocks.3.att.key.weight"], _ = json.Marshal(e)
	})
	expectOneLineError(t, writeTemp(t, "shape.safetensors", shape), "wrong shape")
	missing := rewrite(func(h map[string]json.RawMessage) { delete(h, "blocks.5.ffn.value.weight") })
	expectOneLineError(t, writeTemp(t, "missing.safetensors", missing), "missing tensor")
	dtype := rewrite(func(h map[string]json.RawMessage) {
		var e map[string]any
		json.Unmarshal(h["blocks.0.ln1.weight"], &e)
		e["dtype"] = "C64"
		h["blocks.0.ln1.weight"], _ = json.Marshal(e)
	})
	expectOneLineError(t, writeTemp(t, "dtype.safetensors", dtype), "unknown safetensors dtype")

	// A .pth whose pickle is cut short.
	zr, err := zip.OpenReader(testutil.Path(t, "fixtures", "7v0-834K", "tiny-rwkv-7v0-834K-fp32.pth"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		r, _ := f.Open()
		data, _ := io.ReadAll(r)
		r.Close()
		if strings.HasSuffix(f.Name, "data.pkl") {
			data = data[:len(data)/2]
		}
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		w.Write(data)
	}
	zw.Close()
	expectOneLineError(t, writeTemp(t, "pickle.pth", buf.Bytes()), "malformed pickle")
	expectOneLineError(t, filepath.Join(t.TempDir(), "absent.bin"), "missing file")
}

func TestUsageErrors(t *testing.T) {
	if code, _, _ := runCLI(t, "", "run", "--no-such-flag"); code != exitUsage {
		t.Fatalf("unknown flag: exit %d, want 2", code)
	}
	if code, _, _ := runCLI(t, "", "info", "extra-arg"); code != exitUsage {
		t.Fatalf("extra argument: exit %d, want 2", code)
	}
	if code, _, stderr := runCLI(t, "", "perplexity", "--model", "x.bin"); code != exitUsage || !strings.Contains(stderr, "--file") {
		t.Fatalf("perplexity without --file: exit %d, stderr %q", code, stderr)
	}
}

// TestRunGreedyMatchesReference: `run --template raw --temperature 0`
// prints exactly the reference's greedy continuation, for every version.
func TestRunGreedyMatchesReference(t *testing.T) {
	root := testutil.Root(t)
	for _, m := range []string{"4v0-660K", "5v1-730K", "5v2-730K", "6v0-1m", "7v0-834K"} {
		dir := filepath.Join(root, "fixtures", m)
		want, err := os.ReadFile(filepath.Join(dir, "greedy.bin"))
		if err != nil {
			t.Fatal(err)
		}
		for _, model := range []string{filepath.Join(root, "models", "tiny", "tiny-rwkv-"+m+"-FP32.bin"), filepath.Join(dir, "tiny-rwkv-"+m+"-fp32.pth")} {
			code, out, stderr := runCLI(t, "", "run", "--model", model, "--template", "raw", "--temperature", "0",
				"--max-tokens", "64", "--prompt-file", filepath.Join(dir, "prompt.bin"))
			if code != 0 || out != string(want) {
				t.Errorf("%s: exit %d, output %q, want %q (stderr %q)", filepath.Base(model), code, out, want, stderr)
			}
		}
	}
}

func TestPerplexityJSON(t *testing.T) {
	model := testutil.Path(t, "models", "tiny", "tiny-rwkv-7v0-834K-FP32.bin")
	code, out, stderr := runCLI(t, "hello hello hello world", "perplexity", "--model", model, "--file", "-", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r struct {
		Tokens, Scored int
		NLL, PPL       float64
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if r.Tokens != 23 || r.Scored != 22 || r.NLL <= 0 || r.PPL <= 1 {
		t.Fatalf("%+v", r)
	}
	code, out, _ = runCLI(t, "hello hello hello world", "perplexity", "--model", model, "--file", "-", "--json", "--bos")
	if code != 0 || !strings.Contains(out, `"scored":23`) {
		t.Fatalf("--bos: %s", out)
	}
}

func TestInfoJSON(t *testing.T) {
	model := testutil.Path(t, "fixtures", "6v0-1m", "tiny-rwkv-6v0-1m-bf16.safetensors")
	code, out, stderr := runCLI(t, "", "info", "--model", model, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var info modelInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	if info.Version != "6.0" || info.Layers != 12 || info.Embd != 64 || info.Heads != 8 || info.HeadSize != 8 ||
		info.FFN != 224 || info.Vocab != 256 || info.Format != "safetensors" || info.DTypes["BF16"] == 0 {
		t.Fatalf("%+v", info)
	}
}

// TestBenchCounts: counts below one are a usage error, not a panic.
func TestBenchCounts(t *testing.T) {
	path := testutil.Path(t, "models", "tiny", "tiny-rwkv-7v0-834K-FP32.bin")
	for _, flag := range []string{"--prefill", "--decode", "--repeats"} {
		code, _, stderr := runCLI(t, "", "bench", "--model", path, "--no-machine", flag, "0")
		if code != exitUsage || !strings.Contains(stderr, "at least 1") {
			t.Fatalf("bench %s 0: exit %d, stderr %q", flag, code, stderr)
		}
	}
	code, _, stderr := runCLI(t, "", "bench", "--model", path, "--no-machine", "--prefill", "3", "--decode", "2", "--repeats", "1")
	if code != exitOK {
		t.Fatalf("bench --prefill 3: exit %d, stderr %q", code, stderr)
	}
}
