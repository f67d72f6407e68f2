package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
)

// The end-to-end tests run the real binary, built once.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rwkv-chat-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testBinary builds cmd/rwkv-chat on first use.
func testBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		p := filepath.Join(binDir, "rwkv-chat")
		out, err := exec.Command("go", "build", "-o", p, ".").CombinedOutput()
		if err != nil {
			binError = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		binPath = p
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binPath
}

// childEnv is the environment of the binary: the user's RWKV_CHAT_* and
// NO_COLOR removed, the state dir in home.
func childEnv(home string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "RWKV_CHAT_") || strings.HasPrefix(kv, "NO_COLOR=") || strings.HasPrefix(kv, "TERM=") {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "RWKV_CHAT_HOME="+home, "TERM=xterm"), extra...)
}

// ptyProc is the binary running on a pseudo-terminal.
type ptyProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	tty  *os.File
	mu   sync.Mutex
	buf  []byte
	mark int // expect searches from here
	read chan struct{}
	exit chan error
}

func startPTY(t *testing.T, env []string, args ...string) *ptyProc {
	t.Helper()
	cmd := exec.Command(testBinary(t), args...)
	cmd.Env = env
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	p := &ptyProc{t: t, cmd: cmd, tty: f, read: make(chan struct{}), exit: make(chan error, 1)}
	go func() {
		defer close(p.read)
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			p.mu.Lock()
			p.buf = append(p.buf, b[:n]...)
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() { p.exit <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		f.Close()
	})
	return p
}

func (p *ptyProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.buf)
}

func (p *ptyProc) send(s string) {
	p.t.Helper()
	if _, err := p.tty.WriteString(s); err != nil {
		p.t.Fatalf("writing to the terminal: %v", err)
	}
}

// expect waits until s appears after the mark and moves the mark past it.
func (p *ptyProc) expect(s string, timeout time.Duration) string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		p.mu.Lock()
		out := string(p.buf[p.mark:])
		if k := strings.Index(out, s); k >= 0 {
			p.mark += k + len(s)
			p.mu.Unlock()
			return out[:k]
		}
		p.mu.Unlock()
		if time.Now().After(deadline) {
			p.t.Fatalf("no %q within %v; output after the mark:\n%q", s, timeout, tail(out, 3000))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// prompt waits for the next ">>> " prompt: the chat turns bracketed paste
// on before each line it reads, so a prompt redrawn while typing does not
// count.
func (p *ptyProc) prompt() { p.t.Helper(); p.promptOf(">>> ") }

// more waits for the "... " prompt of a multi-line block.
func (p *ptyProc) more() { p.t.Helper(); p.promptOf("... ") }

func (p *ptyProc) promptOf(s string) {
	p.t.Helper()
	p.expect(pasteModeOn, 30*time.Second)
	p.expect(s, 5*time.Second)
}

// grow waits until n bytes arrived after the mark.
func (p *ptyProc) grow(n int, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		p.mu.Lock()
		got := len(p.buf) - p.mark
		p.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("only %d bytes of output within %v", got, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wait returns the exit code.
func (p *ptyProc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case err := <-p.exit:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			p.t.Fatal(err)
		}
		return 0
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		p.t.Fatalf("the chat did not exit within %v; output:\n%q", timeout, tail(p.output(), 3000))
	}
	return -1
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// sessionParts splits a session file into its JSON header and its three
// states (live, after the system prompt, before the last turn).
func sessionParts(t *testing.T, path string) (map[string]any, [3][]byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var states [3][]byte
	if len(data) < 16 || string(data[:8]) != "RWKVSESS" {
		t.Fatalf("%s is not a session file", path)
	}
	p := data[8 : len(data)-4]
	next := func() []byte {
		if len(p) < 4 {
			t.Fatalf("%s: truncated", path)
		}
		n := int(binary.LittleEndian.Uint32(p))
		if n > len(p)-4 {
			t.Fatalf("%s: truncated", path)
		}
		b := p[4 : 4+n]
		p = p[4+n:]
		return b
	}
	var h map[string]any
	if err := json.Unmarshal(next(), &h); err != nil {
		t.Fatal(err)
	}
	for i := range states {
		states[i] = next()
	}
	return h, states
}

func userTexts(h map[string]any) []string {
	var out []string
	tr, _ := h["transcript"].([]any)
	for _, e := range tr {
		u, _ := e.(map[string]any)["user"].(map[string]any)
		s, _ := u["Text"].(string)
		out = append(out, s)
	}
	return out
}

func sameStates(a, b [3][]byte) bool {
	return bytes.Equal(a[0], b[0]) && bytes.Equal(a[1], b[1]) && bytes.Equal(a[2], b[2])
}

// TestChatTerminal drives `rwkv-chat chat` through a real pseudo-terminal:
// a streamed reply, Ctrl-C in the middle of a long reply (the conversation
// is as before it), /regen, multi-line input, /save, /bye; then a second
// run /loads the conversation and its state is the saved one bit for bit;
// Ctrl-C twice at the prompt exits with 130, Ctrl-D with 0, and a bare
// `rwkv-chat` on a terminal chats.
func TestChatTerminal(t *testing.T) {
	model := testutil.Path(t, "models", "tiny", "tiny-rwkv-7v0-834K-FP32.bin")
	home := t.TempDir()
	sessions := filepath.Join(home, "sessions")
	args := []string{"chat", "--model", model, "--tokenizer", "bytes", "--template", "raw",
		"--temperature", "0", "--color", "always"}

	p := startPTY(t, childEnv(home), args...)
	p.prompt()
	p.send("/set max_tokens 40\r")
	p.expect("max_tokens = 40", 10*time.Second)
	p.prompt()
	p.send("Hello\r")
	reply := p.expect("\x1b[2mprompt 5 tok", 30*time.Second)
	if !strings.Contains(reply, "Hello") || len(reply) < 40 {
		t.Fatalf("no reply before the status line: %q", reply)
	}
	p.expect("reply 40 tok", time.Second)
	p.expect("tok/s", time.Second)
	p.expect("\x1b[0m", time.Second)
	p.prompt()
	p.send("/save before\r")
	p.expect("saved "+filepath.Join(sessions, "before.rwkvsession"), 10*time.Second)
	p.prompt()

	// Ctrl-C in the middle of a reply that would take minutes.
	p.send("/set max_tokens 100000\r")
	p.expect("max_tokens = 100000", 10*time.Second)
	p.prompt()
	p.send("Tell me a long story\r")
	p.expect("Tell me a long story", 10*time.Second)
	p.grow(300, 30*time.Second) // streamed while it is generated
	start := time.Now()
	p.send("\x03")
	p.expect("[stopped: the conversation is as it was before this reply]", 10*time.Second)
	p.prompt()
	t.Logf("Ctrl-C stopped the reply in %v", time.Since(start))
	p.send("/save after-ctrl-c\r")
	p.expect("saved", 10*time.Second)
	p.prompt()
	_, before := sessionParts(t, filepath.Join(sessions, "before.rwkvsession"))
	_, after := sessionParts(t, filepath.Join(sessions, "after-ctrl-c.rwkvsession"))
	if !sameStates(before, after) {
		t.Fatal("the state after Ctrl-C differs from the state before the reply")
	}

	// /regen, multi-line input, bracketed paste, /stats.
	p.send("/set max_tokens 20\r")
	p.expect("max_tokens = 20", 10*time.Second)
	p.prompt()
	p.send("/regen\r")
	p.expect("reply 20 tok", 30*time.Second)
	p.prompt()
	p.send(`"""` + "\r")
	p.more()
	p.send("line one\r")
	p.more()
	p.send("line two\r")
	p.more()
	p.send(`"""` + "\r")
	p.expect("reply 20 tok", 30*time.Second)
	p.prompt()
	p.send("\x1b[200~para one\r\npara two\x1b[201~")
	p.send("\r")
	p.expect("reply 20 tok", 30*time.Second)
	p.prompt()
	p.send("/stats\r")
	p.expect("tokens fed so far", 10*time.Second)
	p.expect("198.0 KiB", time.Second)
	p.prompt()
	p.send("/save first\r")
	p.expect("saved", 10*time.Second)
	p.prompt()
	p.send("/bye\r")
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("/bye: exit status %d", code)
	}
	saved := filepath.Join(sessions, "first.rwkvsession")
	h, savedStates := sessionParts(t, saved)
	if got, want := userTexts(h), []string{"Hello", "line one\nline two", "para one\npara two"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("transcript %q, want %q", got, want)
	}
	if hist, err := os.ReadFile(filepath.Join(home, "history")); err != nil || !strings.Contains(string(hist), "Tell me a long story\n") ||
		!strings.Contains(string(hist), "line one␤line two\n") {
		t.Fatalf("history: %q, %v", hist, err)
	}

	// Second run: /load, then /save under another name: the same state.
	p = startPTY(t, childEnv(home, "RWKV_CHAT_NOHISTORY=1"), args...)
	p.prompt()
	p.send("/sta\t") // tab completion
	p.expect("/stats ", 10*time.Second)
	p.send("\r")
	p.expect("0 turns", 10*time.Second)
	p.prompt()
	p.send("/load first\r")
	p.expect("loaded "+saved+": 3 turns", 10*time.Second)
	p.prompt()
	p.send("/save second\r")
	p.expect("saved", 10*time.Second)
	p.prompt()
	h2, loadedStates := sessionParts(t, filepath.Join(sessions, "second.rwkvsession"))
	if !sameStates(savedStates, loadedStates) {
		t.Fatal("the loaded state differs from the saved one")
	}
	if strings.Join(userTexts(h2), "|") != strings.Join(userTexts(h), "|") {
		t.Fatal("the loaded transcript differs from the saved one")
	}
	// A file of another model is refused, and the conversation stays.
	other := filepath.Join(home, "other.rwkvsession")
	otherModel := testutil.Path(t, "models", "tiny", "tiny-rwkv-6v0-1m-FP32.bin")
	if code, _, stderr := execCLI(t, "", "run", "--model", otherModel, "--template", "raw", "-n", "3", "-p", "x", "--session", other); code != 0 {
		t.Fatalf("saving another model's session: %d %s", code, stderr)
	}
	p.send("/load " + other + "\r")
	p.expect("saved with another model", 10*time.Second)
	p.prompt()
	p.send("/stats\r")
	p.expect("3 turns", 10*time.Second)
	p.prompt()
	// Ctrl-C at the empty prompt says how to leave; a second one leaves.
	p.send("\x03")
	p.expect("Ctrl-D or /bye to leave", 10*time.Second)
	p.prompt()
	p.send("\x03")
	if code := p.wait(20 * time.Second); code != exitInterrupted {
		t.Fatalf("Ctrl-C twice: exit status %d, want 130", code)
	}

	// A bare `rwkv-chat` on a terminal is the chat; Ctrl-D leaves with 0.
	p = startPTY(t, childEnv(home, "RWKV_CHAT_NOHISTORY=1", "RWKV_CHAT_MODEL="+model, "RWKV_CHAT_TEMPLATE=raw"))
	p.prompt()
	p.send("\x04")
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("Ctrl-D: exit status %d; output %q", code, tail(p.output(), 2000))
	}
}

// TestChatPiped: with stdin a pipe, chat reads one message per line, with
// no prompt and no color; /read, /reset, /system and the rest work there too.
func TestChatPiped(t *testing.T) {
	model := testutil.Path(t, "models", "tiny", "tiny-rwkv-7v0-834K-FP32.bin")
	home := t.TempDir()
	t.Setenv("RWKV_CHAT_HOME", home)
	t.Setenv("RWKV_CHAT_NOHISTORY", "1")
	doc := filepath.Join(home, "doc.txt")
	if err := os.WriteFile(doc, []byte("The cat sat on the mat."), 0o644); err != nil {
		t.Fatal(err)
	}
	in := "Hello\n/set temp 0.5\n/stats\n\"\"\"\na\nb\n\"\"\"\n/read " + doc + "\nWhere is the cat?\n/save s\n" +
		"/reset\n/save r\n/think on\n/system Be brief.\n/nope\n/regen\n/bye\nnot read\n"
	code, out, stderr := execCLI(t, in, "chat", "--model", model, "--template", "world", "-n", "10", "--color", "auto")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(out, ">>> ") || strings.Contains(stderr, "\x1b[") || !strings.Contains(out, "temp 0.5") {
		t.Fatalf("stdout %q, stderr %q", out, stderr)
	}
	for _, want := range []string{"unknown command /nope", "conversation reset", "system prompt set", "think on", "nothing to regenerate"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q: %q", want, stderr)
		}
	}
	if n := strings.Count(stderr, "· reply"); n != 3 {
		t.Fatalf("%d status lines for 3 replies: %q", n, stderr)
	}
	h, saved := sessionParts(t, filepath.Join(home, "sessions", "s.rwkvsession"))
	if got := strings.Join(userTexts(h), "|"); got != "Hello|a\nb|Where is the cat?" {
		t.Fatalf("transcript %q", got)
	}
	tr := h["transcript"].([]any)
	if d := tr[2].(map[string]any)["user"].(map[string]any)["Document"]; d != "The cat sat on the mat." {
		t.Fatalf("/read: document %q", d)
	}
	h, reset := sessionParts(t, filepath.Join(home, "sessions", "r.rwkvsession"))
	if len(userTexts(h)) != 0 || !bytes.Equal(reset[0], saved[1]) {
		t.Fatal("/reset did not go back to the state after the system prompt")
	}
	if _, err := os.Stat(filepath.Join(home, "history")); !os.IsNotExist(err) {
		t.Fatalf("RWKV_CHAT_NOHISTORY: history file %v", err)
	}
	if code, _, stderr := execCLI(t, "", "chat", "--model", model, "--color", "sometimes"); code != exitUsage {
		t.Fatalf("--color sometimes: exit %d, %s", code, stderr)
	}
}

// TestChatSessionKilledWhileSaving: a chat with --session saves after every
// turn; killing it at any moment never leaves a session that does not load.
func TestChatSessionKilledWhileSaving(t *testing.T) {
	model := testutil.Path(t, "models", "tiny", "tiny-rwkv-7v0-834K-FP32.bin")
	home := t.TempDir()
	path := filepath.Join(home, "kill.rwkvsession")
	bin := testBinary(t)
	for round := range 8 {
		cmd := exec.Command(bin, "chat", "--model", model, "--template", "world", "-n", "3", "--session", path)
		cmd.Env = childEnv(home, "RWKV_CHAT_NOHISTORY=1")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			for i := 0; ; i++ {
				if _, err := fmt.Fprintf(stdin, "message %d\n", i); err != nil {
					return
				}
			}
		}()
		time.Sleep(time.Duration(150+37*round) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		stdin.Close()
		if _, err := os.Stat(path); err != nil {
			continue // killed before the first save
		}
		// The session must load: `run --session` resumes it.
		code, _, stderr := execCLI(t, "", "run", "--model", model, "--template", "world", "-n", "1", "-p", "x", "--session", path)
		if code != 0 {
			t.Fatalf("round %d: the session does not load after a kill: %s", round, stderr)
		}
		h, _ := sessionParts(t, path)
		t.Logf("round %d: %d turns saved", round, len(userTexts(h)))
	}
	ents, _ := os.ReadDir(home)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Logf("left by a kill: %s (harmless: never loaded)", e.Name())
		}
	}
}
