//go:build linux

package main

// Signals, pipes and faults against the built binary (issue 8, items 4
// and 5). What `run` does, as these tests pin it down:
//
//   - SIGINT or SIGTERM while the model loads (before run installs its
//     handler): the signal's default action ends the process, so a shell
//     reports 128+n (130 for SIGINT, 143 for SIGTERM); nothing is written.
//   - SIGINT or SIGTERM during the prefill or the generation: the reply
//     stops within moments, the text generated so far is flushed, and the
//     exit code is 130 (exitInterrupted) for SIGINT and 143
//     (exitTerminated) for SIGTERM, the same statuses as in the load. An interrupted reply is
//     not saved: a --session file stays as it was.
//   - SIGINT or SIGTERM while the session is being saved: the save (a
//     temporary file, fsync, rename) completes and run exits 0.
//   - SIGKILL at any moment: the session file is the old one or the new
//     one, byte for byte, never a mix (a temporary .NAME.tmp-* file may
//     stay behind; it is never read).
//   - stdout closed by its reader (`run … | head -c 1`): the next write
//     kills the process with SIGPIPE, as for any Unix filter: nothing on
//     stderr, status 141 in a shell, no session saved.
//   - stdout on a full disk (/dev/full): generation stops at once, one
//     line on stderr, exit 1, no session saved.
//   - the session's disk full, or its directory read-only: one line on
//     stderr, exit 1, the previous session file untouched, no temporary
//     file left.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rwkv-chat/rwkv-chat/internal/chat"
	"github.com/rwkv-chat/rwkv-chat/internal/model"
	"github.com/rwkv-chat/rwkv-chat/internal/prompt"
	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
	"github.com/rwkv-chat/rwkv-chat/internal/tokenizer"
	"golang.org/x/sys/unix"
)

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// sigProc is the binary running with its stdout and stderr collected.
type sigProc struct {
	cmd      *exec.Cmd
	out, err lockedBuffer
	done     chan struct{}
	waitErr  error
}

func startSigProc(t *testing.T, home string, stdout *os.File, args ...string) *sigProc {
	t.Helper()
	p := &sigProc{cmd: exec.Command(testBinary(t), args...), done: make(chan struct{})}
	p.cmd.Env = childEnv(home, "RWKV_CHAT_NOHISTORY=1")
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.err
	if stdout != nil {
		p.cmd.Stdout = stdout
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	return p
}

func (p *sigProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the exit, killing the child after d.
func (p *sigProc) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%v still running after %v; stderr %q", p.cmd.Args[1:], d, tail(p.err.String(), 300))
	}
}

// status is how the child ended, as a shell reports it: the exit code, or
// 128+n for a death by signal n.
func (p *sigProc) status() (shell int, how string) {
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return 128 + int(ws.Signal()), "killed by " + unix.SignalName(ws.Signal())
	}
	code := p.cmd.ProcessState.ExitCode()
	return code, "exit " + strconv.Itoa(code)
}

// waitUntil polls cond every 200µs for at most d.
func waitUntil(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Microsecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

func sigTinyModel(t *testing.T) string {
	return testutil.Path(t, "models", "tiny", "tiny-rwkv-7v0-834K-FP32.bin")
}

// sigDocument writes about n bytes of plain English-like words.
func sigDocument(t *testing.T, n int) string {
	t.Helper()
	words := strings.Fields("the of and to in a is that for it as was with be by on not river mountain language model recurrent network")
	r := rand.New(rand.NewPCG(8, 8))
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		if r.IntN(15) == 0 {
			b.WriteString(".\n")
		} else {
			b.WriteByte(' ')
		}
	}
	path := filepath.Join(t.TempDir(), "document.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ignoredSignal reports whether this process ignores sig (a child then
// inherits the ignoring, e.g. SIGINT under `go test … &` in a script).
func ignoredSignal(sig syscall.Signal) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "SigIgn:"); ok {
			mask, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return mask&(1<<(uint(sig)-1)) != 0
		}
	}
	return false
}

// inFIFOOpen reports whether a thread of pid waits in open() of a FIFO.
func inFIFOOpen(pid int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		if s := string(b); strings.Contains(s, "fifo") || strings.Contains(s, "partner") {
			return true
		}
	}
	return false
}

// TestSignalsExitCodes: SIGINT and SIGTERM during the load, the prefill and
// the generation of `run`.
func TestSignalsExitCodes(t *testing.T) {
	model := sigTinyModel(t)
	doc := sigDocument(t, 2_000_000)
	docSize := func() int { st, _ := os.Stat(doc); return int(st.Size()) }()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run("load/"+unix.SignalName(sig), func(t *testing.T) {
			if ignoredSignal(sig) {
				t.Skipf("this process ignores %s, and so would the child", unix.SignalName(sig))
			}
			// A FIFO as the model: opening it blocks until a writer
			// comes, so the child stays in the middle of its load.
			fifo := filepath.Join(t.TempDir(), "model.bin")
			if err := syscall.Mkfifo(fifo, 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			p := startSigProc(t, t.TempDir(), nil, "run", "--model", fifo, "-p", "hello")
			if !waitUntil(5*time.Second, func() bool { return inFIFOOpen(p.cmd.Process.Pid) }) {
				t.Log("could not see the child wait in open(); signalling anyway")
			}
			p.cmd.Process.Signal(sig)
			p.wait(t, 10*time.Second)
			code, how := p.status()
			t.Logf("%s during the load: %s (shell status %d)", unix.SignalName(sig), how, code)
			if code != 128+int(sig) || p.out.Len() != 0 || p.err.Len() != 0 {
				t.Fatalf("%s, stdout %q, stderr %q; want the death by %s (status %d) and no output",
					how, p.out.String(), p.err.String(), unix.SignalName(sig), 128+int(sig))
			}
		})
		t.Run("prefill/"+unix.SignalName(sig), func(t *testing.T) {
			// 2 MB of text on the byte-level tiny model: minutes of
			// prefill. --verbose-prompt prints the prompt just before
			// the reply starts.
			p := startSigProc(t, t.TempDir(), nil, "run", "--model", model, "--template", "raw",
				"--prompt-file", doc, "--verbose-prompt", "-n", "1")
			if !waitUntil(60*time.Second, func() bool { return p.err.Len() >= docSize || p.exited() }) {
				t.Fatal("the prompt was not printed within a minute")
			}
			time.Sleep(500 * time.Millisecond)
			if p.exited() {
				t.Fatalf("run ended before the signal: stderr %q", tail(p.err.String(), 300))
			}
			sent := time.Now()
			p.cmd.Process.Signal(sig)
			p.wait(t, 10*time.Second)
			code, how := p.status()
			t.Logf("%s during the prefill: %s after %v", unix.SignalName(sig), how, time.Since(sent).Round(time.Millisecond))
			if code != 128+int(sig) || p.out.Len() != 0 {
				t.Fatalf("%s, stdout %q; want exit %d and no answer", how, tail(p.out.String(), 200), 128+int(sig))
			}
			if extra := p.err.String()[min(docSize, p.err.Len()):]; strings.Contains(extra, "rwkv-chat") {
				t.Fatalf("stderr after the prompt: %q", extra)
			}
		})
		t.Run("generation/"+unix.SignalName(sig), func(t *testing.T) {
			p := startSigProc(t, t.TempDir(), nil, "run", "--model", model, "--template", "raw",
				"-p", "Once upon a time", "--max-tokens", "100000", "--temperature", "0")
			if !waitUntil(30*time.Second, func() bool { return p.out.Len() >= 100 || p.exited() }) {
				t.Fatal("no output within 30 s")
			}
			sent := time.Now()
			p.cmd.Process.Signal(sig)
			p.wait(t, 10*time.Second)
			code, how := p.status()
			t.Logf("%s during the generation: %s after %v, %d bytes of answer", unix.SignalName(sig), how, time.Since(sent).Round(time.Millisecond), p.out.Len())
			if code != 128+int(sig) || p.err.Len() != 0 {
				t.Fatalf("%s, stderr %q; want exit %d and nothing on stderr", how, p.err.String(), 128+int(sig))
			}
		})
	}
}

// sessionFixture is an old session file and the new one a given `run`
// writes from it (the run is deterministic: greedy, fixed seed).
type sessionFixture struct {
	home, path string
	model      string
	args       []string // the second run, on path
	old, new   []byte
	runTime    time.Duration // of the whole run
	saveTime   time.Duration // from the temporary file's appearance to the exit
}

func newSessionFixture(t *testing.T) *sessionFixture {
	t.Helper()
	model := sigTinyModel(t)
	home := t.TempDir()
	sf := &sessionFixture{home: home, path: filepath.Join(home, "sessions", "talk.rwkvsession")}
	os.MkdirAll(filepath.Dir(sf.path), 0o700)
	sf.model = model
	p := startSigProc(t, home, nil, sf.argsFor(sf.path, "Hi", "-n", "5")...)
	p.wait(t, 60*time.Second)
	if code, how := p.status(); code != 0 {
		t.Fatalf("first run: %s: %s", how, p.err.String())
	}
	var err error
	if sf.old, err = os.ReadFile(sf.path); err != nil {
		t.Fatal(err)
	}
	sf.args = sf.argsFor(sf.path, "Tell me more about rivers.")
	for i := range 2 {
		start := time.Now()
		p := startSigProc(t, home, nil, sf.args...)
		var seen time.Time
		waitUntil(60*time.Second, func() bool {
			if seen.IsZero() && sf.tempFiles() > 0 {
				seen = time.Now()
			}
			return p.exited()
		})
		p.wait(t, time.Second)
		if code, how := p.status(); code != 0 {
			t.Fatalf("second run: %s: %s", how, p.err.String())
		}
		b, err := os.ReadFile(sf.path)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 && !bytes.Equal(b, sf.new) {
			t.Skip("the run is not deterministic: old/new comparison impossible")
		}
		sf.new = b
		sf.runTime = time.Since(start)
		if !seen.IsZero() {
			sf.saveTime = time.Since(seen)
		}
		sf.restore(t)
	}
	if bytes.Equal(sf.old, sf.new) {
		t.Fatal("the second run did not change the session")
	}
	if sf.saveTime == 0 {
		sf.saveTime = 5 * time.Millisecond
	}
	return sf
}

// argsFor is a deterministic `run --session path -p message`; extra
// flags come last (and win over the defaults).
func (sf *sessionFixture) argsFor(path, message string, extra ...string) []string {
	args := []string{"run", "--model", sf.model, "--template", "world", "--seed", "3", "--temperature", "0",
		"-n", "40", "--session", path, "-p", message}
	return append(args, extra...)
}

func (sf *sessionFixture) restore(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(sf.path, sf.old, 0o600); err != nil {
		t.Fatal(err)
	}
}

// tempFiles counts the temporary files of saves in the session directory.
func (sf *sessionFixture) tempFiles() int {
	ents, _ := os.ReadDir(filepath.Dir(sf.path))
	n := 0
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			n++
		}
	}
	return n
}

func (sf *sessionFixture) removeTempFiles() {
	ents, _ := os.ReadDir(filepath.Dir(sf.path))
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			os.Remove(filepath.Join(filepath.Dir(sf.path), e.Name()))
		}
	}
}

// state says whether the session file is the old one or the new one.
func (sf *sessionFixture) state(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(sf.path)
	switch {
	case err != nil:
		t.Fatalf("the session file: %v", err)
	case bytes.Equal(b, sf.old):
		return "old"
	case bytes.Equal(b, sf.new):
		return "new"
	}
	t.Fatalf("the session file (%d bytes) is neither the old one (%d) nor the new one (%d)", len(b), len(sf.old), len(sf.new))
	return ""
}

// checkLoads loads both versions with internal/chat, as `run --session` and
// `chat --session` do.
func (sf *sessionFixture) checkLoads(t *testing.T) {
	t.Helper()
	m, err := model.Open(sigTinyModel(t), model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tok, err := tokenizer.Select(m.Cfg.Vocab, "", sigTinyModel(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"old": sf.old, "new": sf.new} {
		tmpl, err := prompt.Lookup(chat.TemplateName(b))
		if err != nil {
			t.Fatalf("%s session: template: %v", name, err)
		}
		s, err := chat.New(chat.Config{Model: m, Tokenizer: tok, Template: tmpl, Settings: chat.FromTemplate(tmpl)})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s session does not load: %v", name, err)
		}
	}
}

// TestSignalDuringSave: SIGINT or SIGTERM while the session is written lets
// the save finish: exit 0 and the new file.
func TestSignalDuringSave(t *testing.T) {
	sf := newSessionFixture(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		caught := false
		for try := 0; try < 10 && !caught; try++ {
			sf.restore(t)
			p := startSigProc(t, sf.home, nil, sf.args...)
			waitUntil(60*time.Second, func() bool {
				if sf.tempFiles() > 0 {
					p.cmd.Process.Signal(sig)
					caught = true
					return true
				}
				return p.exited()
			})
			p.wait(t, 30*time.Second)
			if !caught {
				continue
			}
			code, how := p.status()
			st := sf.state(t)
			t.Logf("%s during the save: %s, session %s", unix.SignalName(sig), how, st)
			// (A death by the signal is possible only when it came after
			// the save: a loaded machine can delay the test's kill.)
			if (code != 0 && code != 128+int(sig)) || st != "new" || sf.tempFiles() != 0 {
				t.Fatalf("%s during the save: %s, session %s, %d temporary files; want exit 0 and the new session",
					unix.SignalName(sig), how, st, sf.tempFiles())
			}
		}
		if !caught {
			t.Logf("%s: never saw the save in progress in 10 runs", unix.SignalName(sig))
		}
	}
}

// TestSessionKilledDuringSave kills `run --session` with SIGKILL at random
// moments, half of them while the temporary file exists, and requires the
// session file to be, byte for byte, the old one or the new one.
func TestSessionKilledDuringSave(t *testing.T) {
	sf := newSessionFixture(t)
	sf.checkLoads(t)
	n := 50
	if testing.Short() {
		n = 12
	}
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	counts := map[string]int{}
	leftovers := 0
	for i := range n {
		sf.restore(t)
		inSave := i%2 == 0
		p := startSigProc(t, sf.home, nil, sf.args...)
		var delay time.Duration
		if inSave {
			delay = time.Duration(r.Int64N(int64(sf.saveTime) + 1))
			if !waitUntil(60*time.Second, func() bool { return sf.tempFiles() > 0 || p.exited() }) {
				t.Fatal("run did not finish in a minute")
			}
		} else {
			delay = time.Duration(r.Int64N(int64(sf.runTime) + 1))
		}
		time.Sleep(delay)
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.wait(t, 30*time.Second)
		_, how := p.status()
		st := sf.state(t)
		counts[st]++
		if k := sf.tempFiles(); k > 0 {
			leftovers++
			sf.removeTempFiles()
		}
		if testing.Verbose() {
			t.Logf("kill %2d (%s, after %v): %s, session %s", i, map[bool]string{true: "in the save", false: "anywhere"}[inSave], delay.Round(time.Microsecond), how, st)
		}
	}
	t.Logf("%d SIGKILLs (save takes ~%v, run ~%v): session old %d times, new %d times, never mixed; %d kills left a temporary file",
		n, sf.saveTime.Round(time.Microsecond), sf.runTime.Round(time.Millisecond), counts["old"], counts["new"], leftovers)
}

// TestInterruptedAtRandom sends SIGINT or SIGTERM at a random moment of a
// `run --session`: exit 130 leaves the old session, exit 0 the new one.
func TestInterruptedAtRandom(t *testing.T) {
	sf := newSessionFixture(t)
	n := 20
	if testing.Short() {
		n = 6
	}
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	tally := map[string]int{}
	for i := range n {
		sf.restore(t)
		sig := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM}[i%2]
		p := startSigProc(t, sf.home, nil, sf.args...)
		time.Sleep(time.Duration(r.Int64N(int64(sf.runTime) + 1)))
		p.cmd.Process.Signal(sig)
		p.wait(t, 30*time.Second)
		code, how := p.status()
		st := sf.state(t)
		tally[how+" → "+st]++
		switch {
		case code == 0 && st != "new", code == 128+int(sig) && st != "old":
			t.Fatalf("%s: %s but the session is the %s one", unix.SignalName(sig), how, st)
		case code != 0 && code != exitInterrupted && code != 128+int(sig):
			t.Fatalf("%s: %s (stderr %q)", unix.SignalName(sig), how, p.err.String())
		}
		if strings.Contains(p.err.String(), "rwkv-chat:") {
			t.Fatalf("%s: stderr %q", unix.SignalName(sig), p.err.String())
		}
		sf.removeTempFiles()
	}
	t.Logf("%d signals at random moments: %v", n, tally)
}

// TestClosedStdoutKeepsSession: `run --session … | head -c 1` dies of
// SIGPIPE at its next write, quietly, and saves nothing.
func TestClosedStdoutKeepsSession(t *testing.T) {
	sf := newSessionFixture(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := startSigProc(t, sf.home, w, sf.argsFor(sf.path, "Tell me more about rivers.", "-n", "100000", "--template", "raw")...)
	w.Close()
	if _, err := r.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	r.Close()
	start := time.Now()
	p.wait(t, 30*time.Second)
	code, how := p.status()
	t.Logf("stdout closed after 1 byte: %s (shell status %d) after %v", how, code, time.Since(start).Round(time.Millisecond))
	if code != 128+int(syscall.SIGPIPE) || p.err.Len() != 0 {
		t.Fatalf("%s, stderr %q; want a quiet death by SIGPIPE", how, p.err.String())
	}
	if st := sf.state(t); st != "old" {
		t.Fatalf("session %s, want the old one", st)
	}
}

// TestStdoutFullStopsGeneration: with stdout on a full disk the reply stops
// at the first failed write, with one line on stderr and exit 1, and the
// session is not saved.
func TestStdoutFullStopsGeneration(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer full.Close()
	sf := newSessionFixture(t)
	start := time.Now()
	p := startSigProc(t, sf.home, full, sf.argsFor(sf.path, "Tell me more about rivers.", "-n", "100000", "--template", "raw")...)
	p.wait(t, 20*time.Second)
	code, how := p.status()
	msg := p.err.String()
	t.Logf("stdout on /dev/full: %s after %v: %q", how, time.Since(start).Round(time.Millisecond), msg)
	if code != exitError || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "no space left on device") {
		t.Fatalf("%s, stderr %q; want exit 1 and one line", how, msg)
	}
	if st := sf.state(t); st != "old" {
		t.Fatalf("session %s, want the old one", st)
	}
}

// mountTmpfs mounts a tmpfs of size bytes (read-only when ro) on dir, or
// reports why it cannot. It is unmounted when the test ends.
func mountTmpfs(t *testing.T, dir string, size int, ro bool) error {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		return err
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	if ro {
		return syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, "")
	}
	return nil
}

// limitFileSize makes the child's writes beyond n bytes fail with EFBIG
// (not the SIGXFSZ death, which it inherits ignored): a full disk for
// someone without the right to mount a small file system.
func limitFileSize(t *testing.T, pid int, n uint64) {
	t.Helper()
	lim := unix.Rlimit{Cur: n, Max: n}
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &lim, nil); err != nil {
		t.Skipf("prlimit: %v", err)
	}
}

// ignoreSIGXFSZ makes the children started until the test ends inherit
// SIGXFSZ ignored.
func ignoreSIGXFSZ(t *testing.T) {
	signal.Ignore(syscall.SIGXFSZ)
	t.Cleanup(func() { signal.Reset(syscall.SIGXFSZ) })
}

// diskFault is one way the session's or the output's disk can fail.
type diskFault struct {
	name string
	// setup prepares dir (empty, existing) for the fault, with the files
	// in before already in it; it returns a hook called with the child's
	// pid right after it starts, and the text the error must contain.
	setup func(t *testing.T, dir string, before map[string][]byte) (func(pid int), string)
}

var diskFaults = []diskFault{
	{"tmpfs-full", func(t *testing.T, dir string, before map[string][]byte) (func(int), string) {
		size := 64 << 10
		for _, b := range before {
			size += len(b)
		}
		if err := mountTmpfs(t, dir, size, false); err != nil {
			t.Skipf("cannot mount a tmpfs (%v): needs CAP_SYS_ADMIN; the file-size-limit case covers a full disk", err)
		}
		writeAll(t, dir, before)
		return nil, "no space left on device"
	}},
	{"file-size-limit", func(t *testing.T, dir string, before map[string][]byte) (func(int), string) {
		writeAll(t, dir, before)
		ignoreSIGXFSZ(t)
		return func(pid int) { limitFileSize(t, pid, 32<<10) }, "file too large"
	}},
	{"read-only", func(t *testing.T, dir string, before map[string][]byte) (func(int), string) {
		if os.Geteuid() != 0 {
			writeAll(t, dir, before)
			os.Chmod(dir, 0o555)
			t.Cleanup(func() { os.Chmod(dir, 0o755) })
			return nil, "permission denied"
		}
		size := 64 << 10
		for _, b := range before {
			size += len(b)
		}
		if err := mountTmpfs(t, dir, size, false); err != nil {
			t.Skipf("as root, only a read-only mount stops writes, and mounting fails: %v", err)
		}
		writeAll(t, dir, before)
		if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			t.Skipf("remount read-only: %v", err)
		}
		return nil, "read-only file system"
	}},
}

func writeAll(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// checkDir requires dir to hold exactly files, byte for byte.
func checkDir(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != len(files) {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("%s holds %v, want only the previous files", dir, names)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: changed (%d bytes, %v), want the previous %d bytes", name, len(got), err, len(want))
		}
	}
}

// TestSessionSaveDiskFaults: a full disk or a read-only directory when
// `run --session` saves: one line on stderr, exit 1, the previous session
// untouched and no temporary file left.
func TestSessionSaveDiskFaults(t *testing.T) {
	sf := newSessionFixture(t)
	for _, f := range diskFaults {
		t.Run(f.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sessions")
			os.Mkdir(dir, 0o755)
			before := map[string][]byte{"talk.rwkvsession": sf.old}
			hook, want := f.setup(t, dir, before)
			p := startSigProc(t, sf.home, nil, sf.argsFor(filepath.Join(dir, "talk.rwkvsession"), "Tell me more about rivers.")...)
			if hook != nil {
				hook(p.cmd.Process.Pid)
			}
			p.wait(t, 60*time.Second)
			code, how := p.status()
			msg := p.err.String()
			t.Logf("%s: %s: %q", f.name, how, msg)
			if code != exitError || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, want) || !strings.Contains(msg, "talk.rwkvsession") {
				t.Errorf("%s, stderr %q; want exit 1 and one line naming the file and %q", how, msg, want)
			}
			checkDir(t, dir, before)
		})
	}
}

// TestQuantizeDiskFaults: the same faults while `quantize` writes its
// output over a previous file.
func TestQuantizeDiskFaults(t *testing.T) {
	src := sigTinyModel(t)
	previous := bytes.Repeat([]byte("previous output "), 1024)
	for _, f := range diskFaults {
		t.Run(f.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			os.Mkdir(dir, 0o755)
			before := map[string][]byte{"tiny.gguf": previous}
			hook, want := f.setup(t, dir, before)
			p := startSigProc(t, t.TempDir(), nil, "quantize", src, filepath.Join(dir, "tiny.gguf"), "--type", "q8_0")
			if hook != nil {
				hook(p.cmd.Process.Pid)
			}
			p.wait(t, 60*time.Second)
			code, how := p.status()
			msg := p.err.String()
			t.Logf("%s: %s: %q", f.name, how, msg)
			if code != exitError || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, want) || !strings.Contains(msg, "tiny.gguf") {
				t.Errorf("%s, stderr %q; want exit 1 and one line naming the file and %q", how, msg, want)
			}
			checkDir(t, dir, before)
		})
	}
}

// failingWriter accepts n writes, then fails with err.
type failingWriter struct {
	n     int
	err   error
	calls int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	f.calls++
	if f.n > 0 {
		f.n--
		return len(p), nil
	}
	return 0, f.err
}

// TestRunStopsWhenStdoutFails (in process): when stdout fails, run stops
// generating at once; a closed pipe (EPIPE, what a platform without
// SIGPIPE sees) ends quietly with exit 0, any other error with exit 1.
func TestRunStopsWhenStdoutFails(t *testing.T) {
	isolateRunEnv(t)
	model := sigTinyModel(t)
	for _, c := range []struct {
		err  error
		code int
		want string
	}{
		{syscall.EPIPE, exitOK, ""},
		{syscall.ENOSPC, exitError, "rwkv-chat: writing output: no space left on device\n"},
	} {
		w := &failingWriter{n: 3, err: c.err}
		var stderr bytes.Buffer
		done := make(chan int, 1)
		start := time.Now()
		go func() {
			done <- execute([]string{"run", "--model", model, "--template", "raw", "-p", "Once upon a time",
				"--max-tokens", "100000", "--temperature", "0"}, &streams{In: strings.NewReader(""), Out: w, Err: &stderr})
		}()
		select {
		case code := <-done:
			t.Logf("%v after 3 writes: exit %d after %v, %d writes tried", c.err, code, time.Since(start).Round(time.Millisecond), w.calls)
			if code != c.code || stderr.String() != c.want || w.calls != 4 {
				t.Errorf("%v: exit %d, stderr %q, %d writes; want exit %d, stderr %q and no write after the failure",
					c.err, code, stderr.String(), w.calls, c.code, c.want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%v: run kept generating for 20 s after its output failed", c.err)
		}
	}
}
