package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
)

// runCLI runs the command line with stdin in and returns the exit code,
// stdout and stderr.
func runTokenizeCLI(t *testing.T, in string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(args, &streams{In: strings.NewReader(in), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

// isolateTokenizerEnv keeps the user's cache and environment out of the test.
func isolateTokenizerEnv(t *testing.T) {
	t.Setenv("RWKV_CHAT_HOME", t.TempDir())
	for _, v := range []string{"RWKV_CHAT_TOKENIZER", "RWKV_CHAT_MODEL", "RWKV_CHAT_JSON", "RWKV_CHAT_JSONL"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
}

func TestTokenizeWorld(t *testing.T) {
	isolateTokenizerEnv(t)
	vocab := testutil.Path(t, "tokenizers", "rwkv_vocab_v20230424.txt")

	code, out, errs := runTokenizeCLI(t, "", "tokenize", "--tokenizer", vocab, "User: hi\n\nAssistant:")
	if code != 0 || out != "24281 59 4571 261 5585 41693 59\n" {
		t.Fatalf("exit %d, out %q, err %q", code, out, errs)
	}
	// stdin, and the directory of the vocabulary as --tokenizer with "world"
	t.Setenv("RWKV_CHAT_HOME", filepath.Dir(vocab))
	code, out, errs = runTokenizeCLI(t, "Hello world", "tokenize", "--tokenizer", "world", "-")
	if code != 0 || out != "33155 40213\n" {
		t.Fatalf("exit %d, out %q, err %q", code, out, errs)
	}
	code, out, errs = runTokenizeCLI(t, "", "tokenize", "--tokenizer", vocab, "--json", "🐱 emoji")
	if code != 0 {
		t.Fatalf("exit %d, err %q", code, errs)
	}
	var got struct {
		IDs    []int    `json:"ids"`
		Pieces []string `json:"pieces"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	wantIDs := []int{3319, 145, 178, 38362}
	wantPieces := []string{`\xf0\x9f`, `\x90`, `\xb1`, " emoji"}
	if len(got.IDs) != 4 || len(got.Pieces) != 4 {
		t.Fatalf("got %+v", got)
	}
	for i := range wantIDs {
		if got.IDs[i] != wantIDs[i] || got.Pieces[i] != wantPieces[i] {
			t.Errorf("token %d: %d %q, want %d %q", i, got.IDs[i], got.Pieces[i], wantIDs[i], wantPieces[i])
		}
	}
}

func TestTokenizeJSONLFixtures(t *testing.T) {
	isolateTokenizerEnv(t)
	for _, c := range []struct{ vocab, fixtures string }{
		{"rwkv_vocab_v20230424.txt", "world.jsonl"},
		{"20B_tokenizer.json", "neox.jsonl"},
	} {
		vocab := testutil.Path(t, "tokenizers", c.vocab)
		fx, err := os.ReadFile(testutil.Path(t, "fixtures", "tokenizer", c.fixtures))
		if err != nil {
			t.Fatal(err)
		}
		code, out, errs := runTokenizeCLI(t, string(fx), "tokenize", "--tokenizer", vocab, "--jsonl")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.fixtures, code, errs)
		}
		in := bufio.NewScanner(bytes.NewReader(fx))
		in.Buffer(nil, 1<<20)
		res := bufio.NewScanner(strings.NewReader(out))
		res.Buffer(nil, 1<<20)
		n := 0
		for in.Scan() {
			if !res.Scan() {
				t.Fatalf("%s: output ends after %d lines", c.fixtures, n)
			}
			n++
			var want struct {
				Name string `json:"name"`
				IDs  []int  `json:"ids"`
			}
			var got struct {
				IDs    []int    `json:"ids"`
				Pieces []string `json:"pieces"`
			}
			if err := json.Unmarshal(in.Bytes(), &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(res.Bytes(), &got); err != nil {
				t.Fatalf("%s line %d: %v", c.fixtures, n, err)
			}
			if !intsEqual(got.IDs, want.IDs) || len(got.Pieces) != len(got.IDs) {
				t.Errorf("%s %s: ids %v, want %v", c.fixtures, want.Name, got.IDs, want.IDs)
			}
		}
		if res.Scan() {
			t.Errorf("%s: extra output lines", c.fixtures)
		}
	}
}

func intsEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTokenizeModel(t *testing.T) {
	isolateTokenizerEnv(t)
	model := testutil.Path(t, "models", "tiny", "tiny-rwkv-4v0-660K-FP32.bin")
	// A byte-level model (vocabulary 256).
	code, out, errs := runTokenizeCLI(t, "", "tokenize", "--model", model, `"in`)
	if code != 0 || out != "34 105 110\n" {
		t.Fatalf("exit %d, out %q, err %q", code, out, errs)
	}
	// A World vocabulary for it is refused.
	vocab := testutil.Path(t, "tokenizers", "rwkv_vocab_v20230424.txt")
	code, _, errs = runTokenizeCLI(t, "", "tokenize", "--model", model, "--tokenizer", vocab, "x")
	if code != exitError || !strings.Contains(errs, "refusing") {
		t.Fatalf("exit %d, err %q", code, errs)
	}
}

func TestTokenizeErrors(t *testing.T) {
	isolateTokenizerEnv(t)
	for _, c := range []struct {
		in   string
		args []string
		code int
		msg  string
	}{
		{"", []string{"tokenize", "x"}, exitUsage, "--model"},
		{"", []string{"tokenize", "--tokenizer", "bytes"}, exitUsage, "TEXT"},
		{"", []string{"tokenize", "--tokenizer", "bytes", "--jsonl", "x"}, exitUsage, "standard input"},
		{"", []string{"tokenize", "--tokenizer", "bytes", "--json", "--jsonl"}, exitUsage, "exclude"},
		{"", []string{"tokenize", "--tokenizer", "world", "x"}, exitError, "rwkv-chat pull"},
		{"{\"nope\":1}\n", []string{"tokenize", "--tokenizer", "bytes", "--jsonl"}, exitError, "line 1"},
		{"{\"bytes_hex\":\"zz\"}\n", []string{"tokenize", "--tokenizer", "bytes", "--jsonl"}, exitError, "bytes_hex"},
		{"not json\n", []string{"tokenize", "--tokenizer", "bytes", "--jsonl"}, exitError, "line 1"},
		{"", []string{"tokenize", "--model", "/nonexistent/model.pth", "x"}, exitError, "model.pth"},
	} {
		code, _, errs := runTokenizeCLI(t, c.in, c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%q: exit %d, err %q; want exit %d and %q", c.args, code, errs, c.code, c.msg)
		}
	}
	// The bytes tokenizer with --jsonl: text and bytes_hex, blank lines skipped.
	code, out, errs := runTokenizeCLI(t, "{\"text\":\"ab\"}\n\n{\"bytes_hex\":\"ff00\"}", "tokenize", "--tokenizer", "bytes", "--jsonl")
	want := "{\"ids\":[97,98],\"pieces\":[\"a\",\"b\"]}\n{\"ids\":[255,0],\"pieces\":[\"\\\\xff\",\"\\u0000\"]}\n"
	if code != 0 || out != want {
		t.Errorf("exit %d, out %q, want %q, err %q", code, out, want, errs)
	}
	code, out, _ = runTokenizeCLI(t, "", "tokenize", "--tokenizer", "bytes", "--json", "")
	if code != 0 || out != "{\"ids\":[],\"pieces\":[]}\n" {
		t.Errorf("empty: exit %d, out %q", code, out)
	}
}
