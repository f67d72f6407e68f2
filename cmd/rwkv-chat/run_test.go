package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rwkv-chat/rwkv-chat/internal/prompt"
	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
	"github.com/rwkv-chat/rwkv-chat/internal/tokenizer"
)

// execCLI runs a command line in-process with stdin as a pipe (not a
// terminal) and returns the exit code, stdout and stderr.
func execCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(args, &streams{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

// isolateRunEnv keeps the user's settings and state dir out of the test.
func isolateRunEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "RWKV_CHAT_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	t.Setenv("RWKV_CHAT_HOME", t.TempDir())
}

func tinyModel(t *testing.T) string {
	return testutil.Path(t, "models", "tiny", "tiny-rwkv-7v0-834K-FP32.bin")
}

// TestRunPrompt: --prompt alone answers on stdout, nothing on stderr.
func TestRunPrompt(t *testing.T) {
	isolateRunEnv(t)
	code, out, stderr := execCLI(t, "", "run", "--model", tinyModel(t), "--template", "world",
		"--prompt", "Hi", "--max-tokens", "8", "--temperature", "0")
	if code != 0 || out == "" || stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	// The same with a fixed seed and sampling twice: the same text.
	args := []string{"run", "--model", tinyModel(t), "--template", "world", "-p", "Hi", "-n", "16", "--seed", "7", "--temperature", "1"}
	_, a, _ := execCLI(t, "", args...)
	_, b, _ := execCLI(t, "", args...)
	if a != b {
		t.Fatalf("--seed 7 twice: %q and %q", a, b)
	}
}

// TestRunStdin: with no --prompt, stdin is the message; with --prompt, the
// question comes first, then the document, then the question again, and the
// tokens fed are exactly that text's.
func TestRunStdin(t *testing.T) {
	isolateRunEnv(t)
	model := tinyModel(t)
	world, err := prompt.Lookup("world")
	if err != nil {
		t.Fatal(err)
	}

	code, out, stderr := execCLI(t, "Tell me about cats.", "run", "--model", model, "--template", "world", "-n", "8",
		"--verbose-prompt", "--no-prime")
	if want := "User: Tell me about cats.\n\nAssistant:\n"; code != 0 || stderr != want || out == "" {
		t.Fatalf("stdin only: exit %d, stderr %q (want %q), stdout %q", code, stderr, want, out)
	}

	doc := "The cat sat on the mat.\n"
	q := "Where did the cat sit?"
	code, out, stderr = execCLI(t, doc, "run", "--model", model, "--template", "world", "-n", "8",
		"--verbose-prompt", "--no-prime", "--json", "--prompt", q)
	if code != 0 {
		t.Fatalf("stdin + --prompt: exit %d: %s", code, stderr)
	}
	want := "User: Where did the cat sit?\nThe cat sat on the mat.\n(Question: Where did the cat sit?)\n\nAssistant:"
	if stderr != want+"\n" {
		t.Fatalf("fed prompt %q, want the question-first form %q", stderr, want)
	}
	if got := world.Turn(prompt.Message{Text: q, Document: doc}); got != want {
		t.Fatalf("template: %q", got)
	}
	var r runResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	ids := tokenizer.Bytes().Encode([]byte(strings.TrimSuffix(stderr, "\n")))
	wantIDs := make([]int, len(want))
	for i := range len(want) {
		wantIDs[i] = int(want[i])
	}
	if !slices.Equal(ids, wantIDs) || r.PromptTokens != len(wantIDs) {
		t.Fatalf("prompt tokens %d (%v), want %d", r.PromptTokens, ids, len(wantIDs))
	}
	if strings.Index(want, q) > strings.Index(want, "The cat sat") {
		t.Fatal("the document comes before the question")
	}

	// --file is the document too; with priming the opening comes first.
	file := filepath.Join(t.TempDir(), "doc.txt")
	os.WriteFile(file, []byte(doc), 0o644)
	code, _, stderr = execCLI(t, "", "run", "--model", model, "--template", "world", "-n", "4",
		"--verbose-prompt", "--file", file, "--prompt", q)
	if code != 0 || stderr != world.Start("", true)+want+"\n" {
		t.Fatalf("--file: exit %d, stderr %q", code, stderr)
	}
}

// TestRunJSON: --json prints one object with the documented fields.
func TestRunJSON(t *testing.T) {
	isolateRunEnv(t)
	code, out, stderr := execCLI(t, "", "run", "--model", tinyModel(t), "--template", "world", "-p", "Hello", "-n", "12", "--json")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "}\n") {
		t.Fatalf("not one JSON line: %q", out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"prompt_tokens", "generated_tokens", "prefill_tok_s", "decode_tok_s"} {
		if v, ok := m[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v", k, m[k])
		}
	}
	if _, ok := m["text"].(string); !ok {
		t.Errorf("text = %v", m["text"])
	}
	if r, _ := m["stop_reason"].(string); !slices.Contains([]string{"end", "eos", "stop", "length"}, r) {
		t.Errorf("stop_reason = %v", m["stop_reason"])
	}
	if m["generated_tokens"].(float64) > 12 {
		t.Errorf("generated %v tokens with --max-tokens 12", m["generated_tokens"])
	}
}

// TestRunExitCodes: 0 ok, 1 runtime error, 2 usage error, each failure one
// line on stderr.
func TestRunExitCodes(t *testing.T) {
	isolateRunEnv(t)
	model := tinyModel(t)
	missing := filepath.Join(t.TempDir(), "absent.bin")
	cases := []struct {
		args []string
		code int
	}{
		{[]string{"run", "--model", model, "-p", "x", "-n", "2"}, exitOK},
		{[]string{"run", "--model", missing, "-p", "x"}, exitError},
		{[]string{"run", "--model", model, "-p", "x", "--no-such-flag"}, exitUsage},
		{[]string{"run", "--model", model, "-p", "x", "--max-tokens", "many"}, exitUsage},
		{[]string{"run", "--model", model}, exitUsage}, // nothing to answer
		{[]string{"run", "--model", model, "-p", "x", "--think", "maybe"}, exitUsage},
		{[]string{"run", "--model", model, "-p", "x", "--template", "nope"}, exitUsage},
		{[]string{"run", "--model", model, "-p", "x", "extra"}, exitUsage},
	}
	for _, c := range cases {
		code, _, stderr := execCLI(t, "", c.args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, code, c.code, stderr)
		}
		if c.code != 0 && (strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "rwkv-chat: ")) {
			t.Errorf("%v: want one error line, got %q", c.args, stderr)
		}
	}
}

// TestRunSessionRefused: `run --session FILE` with a damaged file or one
// saved with another model stops with a clear message and leaves the file
// as it was.
func TestRunSessionRefused(t *testing.T) {
	isolateRunEnv(t)
	model := tinyModel(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.rwkvsession")
	if code, _, stderr := execCLI(t, "", "run", "--model", model, "--template", "world", "-p", "Hi", "-n", "4", "--session", good); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.rwkvsession")
	for _, n := range []int{5, 100, len(data) / 2, len(data) - 1} {
		os.WriteFile(cut, data[:n], 0o600)
		code, _, stderr := execCLI(t, "", "run", "--model", model, "--template", "world", "-p", "Hi", "-n", "4", "--session", cut)
		if code != exitError || !strings.Contains(stderr, cut) || strings.Count(stderr, "\n") != 1 {
			t.Fatalf("cut at %d: exit %d, stderr %q", n, code, stderr)
		}
		if now, _ := os.ReadFile(cut); !bytes.Equal(now, data[:n]) {
			t.Fatalf("cut at %d: the refused file was rewritten", n)
		}
	}
	other := testutil.Path(t, "models", "tiny", "tiny-rwkv-5v2-730K-FP32.bin")
	code, _, stderr := execCLI(t, "", "run", "--model", other, "--template", "world", "-p", "Hi", "-n", "4", "--session", good)
	if code != exitError || !strings.Contains(stderr, "saved with another model") {
		t.Fatalf("another model: exit %d, stderr %q", code, stderr)
	}
	if now, _ := os.ReadFile(good); !bytes.Equal(now, data) {
		t.Fatal("the good session file changed")
	}
}

// TestRunClosedStdout: `rwkv-chat run … | head -c 1` ends quietly.
func TestRunClosedStdout(t *testing.T) {
	isolateRunEnv(t)
	cmd := exec.Command(testBinary(t), "run", "--model", tinyModel(t), "--template", "raw", "-p", "Once upon a time",
		"--max-tokens", "100000")
	cmd.Env = childEnv(t.TempDir())
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	one := make([]byte, 1)
	if _, err := io.ReadFull(r, one); err != nil {
		t.Fatal(err)
	}
	r.Close() // like head -c 1
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("run kept going after its stdout was closed")
	}
	// Quiet: no message, and either success or the SIGPIPE death a shell
	// pipeline expects.
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGPIPE) {
		t.Fatalf("exit: %v (stderr %q)", err, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Fatalf("stderr %q", stderr.String())
	}
}

// TestRunInterrupted: SIGINT during a reply exits with 130.
func TestRunInterrupted(t *testing.T) {
	isolateRunEnv(t)
	cmd := exec.Command(testBinary(t), "run", "--model", tinyModel(t), "--template", "raw", "-p", "Once", "--max-tokens", "100000")
	cmd.Env = childEnv(t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(out, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(os.Interrupt)
	go io.Copy(io.Discard, out)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("SIGINT did not stop run")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit: %v, want status 130", err)
	}
}
