package main

import (
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creack/pty"
)

// withLoadClock replaces the clock of the loading progress for one test.
func withLoadClock(t *testing.T, now func() time.Time) {
	t.Helper()
	old := loadClock
	loadClock = now
	t.Cleanup(func() { loadClock = old })
}

// steppingClock moves by step at every reading, so that loading "takes"
// as long as the test wants whatever the machine's speed. Readings may come
// from the ticker's goroutine too.
func steppingClock(step time.Duration) func() time.Time {
	var ns atomic.Int64
	return func() time.Time { return time.Unix(1_000_000, ns.Add(int64(step))) }
}

// A load that ends before the delay prints nothing on stderr. The clock is
// stopped, so that "fast" does not depend on this machine's load.
func TestLoadFastIsSilent(t *testing.T) {
	isolateRunEnv(t)
	stopped := time.Unix(1_000_000, 0)
	withLoadClock(t, func() time.Time { return stopped })
	code, out, stderr := execCLI(t, "", "info", "--model", tinyModel(t))
	if code != 0 || stderr != "" || !strings.Contains(out, "RWKV-7") {
		t.Fatalf("info: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	code, out, stderr = execCLI(t, "", "run", "--model", tinyModel(t), "--template", "world",
		"--prompt", "Hi", "--max-tokens", "4", "--temperature", "0")
	if code != 0 || out == "" || stderr != "" {
		t.Fatalf("run: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// A slow load shows plain progress lines and a summary on stderr when it
// is not a terminal, and nothing on stdout.
func TestLoadSlowShowsPlainLines(t *testing.T) {
	isolateRunEnv(t)
	withLoadClock(t, steppingClock(700*time.Millisecond))
	code, out, stderr := execCLI(t, "", "info", "--model", tinyModel(t))
	if code != 0 {
		t.Fatalf("info: exit %d, stderr %q", code, stderr)
	}
	if strings.Contains(out, "Loading") {
		t.Errorf("loading progress on stdout: %q", out)
	}
	if strings.Contains(stderr, "\r") {
		t.Errorf("carriage return on a stderr that is not a terminal: %q", stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	const prefix = "Loading tiny-rwkv-7v0-834K-FP32.bin: "
	for _, l := range lines {
		if !strings.HasPrefix(l, prefix) {
			t.Errorf("stderr line %q does not start with %q", l, prefix)
		}
	}
	if len(lines) < 2 || !strings.Contains(lines[len(lines)-1], " in ") {
		t.Errorf("want progress lines and a summary, got %q", stderr)
	}
}

// On a terminal the bar is redrawn in place and blanked out at the end:
// the output has carriage returns and no newline.
func TestLoadSlowTerminalBar(t *testing.T) {
	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer master.Close()
	if err := pty.Setsize(master, &pty.Winsize{Rows: 24, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	got := make(chan string)
	go func() {
		b, _ := io.ReadAll(master) // ends with EIO once tty is closed
		got <- string(b)
	}()
	withLoadClock(t, steppingClock(700*time.Millisecond))
	m, err := openWithProgress(tinyModel(t), tty)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	tty.Close()
	out := <-got
	if strings.ContainsAny(out, "\n") {
		t.Errorf("newline in the terminal output: %q", out)
	}
	frames := strings.Split(out, "\r")
	if len(frames) < 3 || frames[0] != "" {
		t.Fatalf("want frames drawn over each other, got %q", out)
	}
	if f := frames[1]; !strings.HasPrefix(f, "Loading tiny-rwkv-7v0-834K-FP32.bin ") || !strings.Contains(f, "%") || len([]rune(f)) > 99 {
		t.Errorf("first frame %q", f)
	}
	// The last frame is blank: Clear writes spaces over the bar, then \r.
	if blank := frames[len(frames)-2]; strings.TrimSpace(blank) != "" || len(blank) == 0 || frames[len(frames)-1] != "" {
		t.Errorf("the bar is not blanked out at the end: %q", out)
	}
}
