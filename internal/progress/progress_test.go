package progress

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a fake clock the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_000_000, 0)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// lockedBuffer is a bytes.Buffer that the ticker goroutine may write to
// while the test reads it.
type lockedBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{} // closed at the first write
	once  sync.Once
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.once.Do(func() { close(l.wrote) })
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A load that ends before Delay prints nothing, on a terminal or not.
func TestDelayHidesFastOperations(t *testing.T) {
	for _, tty := range []bool{true, false} {
		var buf bytes.Buffer
		clk := newClock()
		b := New(&buf, tty, 80, clk.now)
		b.Delay = time.Second
		b.Start("Loading m.bin", 0, 0)
		for i := int64(1); i <= 9; i++ {
			clk.advance(100 * time.Millisecond)
			b.Set(i*100, 1000)
			b.Tick()
		}
		clk.advance(99 * time.Millisecond) // 999 ms
		b.Tick()
		b.Set(1000, 1000)
		b.Clear()
		if buf.Len() != 0 {
			t.Errorf("tty=%v: output for an operation shorter than the delay: %q", tty, buf.String())
		}
	}
}

// On a terminal the bar appears at the delay, is redrawn in place at most
// every TTYPeriod and is blanked out by Clear, leaving no line behind.
func TestTTYRedrawAndClear(t *testing.T) {
	var buf bytes.Buffer
	clk := newClock()
	b := New(&buf, true, 80, clk.now)
	b.Delay = time.Second
	b.Start("Loading a-model-file-with-a-rather-long-name.bin", 0, 0)
	b.Set(0, 4_000_000_000)
	clk.advance(time.Second)
	b.Set(1_000_000_000, 0) // 0 keeps the total
	first := buf.String()
	if !strings.HasPrefix(first, "\r") || !strings.Contains(first, " 25%") || !strings.Contains(first, "1.00 GB / 4.00 GB") {
		t.Fatalf("first frame %q", first)
	}
	clk.advance(TTYPeriod / 2)
	b.Set(1_500_000_000, 0)
	if buf.String() != first {
		t.Errorf("redrawn before a period passed: %q", buf.String())
	}
	clk.advance(TTYPeriod / 2)
	b.Set(2_000_000_000, 0)
	clk.advance(TTYPeriod)
	b.Tick() // no new bytes: the rate and the time left still move
	out := buf.String()
	if strings.Contains(out, "\n") {
		t.Errorf("a terminal bar wrote a newline: %q", out)
	}
	frames := strings.Split(out, "\r")[1:]
	if len(frames) != 3 {
		t.Fatalf("%d frames, want 3: %q", len(frames), out)
	}
	for _, f := range frames {
		if n := len([]rune(f)); n > 79 {
			t.Errorf("frame of %d columns on a terminal of 80: %q", n, f)
		}
		if !strings.HasPrefix(f, "Loading a-model-file") || !strings.Contains(f, "…") {
			t.Errorf("frame %q does not start with the (shortened) name", f)
		}
	}
	if last := frames[2]; !strings.Contains(last, " 50%") || !strings.Contains(last, "[") || !strings.Contains(last, "ETA") {
		t.Errorf("last frame %q", last)
	}
	buf.Reset()
	b.Clear()
	if got, want := buf.String(), "\r"+strings.Repeat(" ", len([]rune(frames[2])))+"\r"; got != want {
		t.Errorf("Clear wrote %q, want %q", got, want)
	}
	clk.advance(time.Minute)
	b.Tick()
	b.Set(3_000_000_000, 0)
	if buf.Len() != len("\r")*2+len([]rune(frames[2])) {
		t.Errorf("output after Clear: %q", buf.String())
	}
}

// Elsewhere there is a line at the delay, then one every PlainPeriod, and
// a summary at the end; never a carriage return.
func TestPlainLines(t *testing.T) {
	var buf bytes.Buffer
	clk := newClock()
	b := New(&buf, false, 0, clk.now)
	b.Delay = time.Second
	b.Start("Loading m.bin", 0, 0)
	// 1 GB over 10 s, reported every 100 ms.
	for i := int64(1); i <= 100; i++ {
		clk.advance(100 * time.Millisecond)
		b.Set(i*10_000_000, 1_000_000_000)
	}
	b.Clear()
	out := buf.String()
	if strings.Contains(out, "\r") {
		t.Errorf("carriage return in plain output: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []string{
		"Loading m.bin: 100.0 MB / 1.00 GB (10%), 100.0 MB/s, 9s left",
		"Loading m.bin: 600.0 MB / 1.00 GB (60%), 100.0 MB/s, 4s left",
		"Loading m.bin: 1.00 GB in 10s (100.0 MB/s)",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("plain output:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
}

// Tick shows a stalled operation once the delay has passed, with what is
// known so far.
func TestTickShowsAStall(t *testing.T) {
	var buf bytes.Buffer
	clk := newClock()
	b := New(&buf, false, 0, clk.now)
	b.Delay = time.Second
	b.Start("Loading m.bin", 0, 0)
	clk.advance(1500 * time.Millisecond)
	b.Tick()
	if got := buf.String(); got != "Loading m.bin: 0 B, -- MB/s, -- left\n" {
		t.Errorf("stalled: %q", got)
	}
}

// TickEvery ticks on its own goroutine until stopped; stop may be called
// twice. The ticks read the fake clock, so what they draw does not depend
// on timing, only that they come at all.
func TestTickEvery(t *testing.T) {
	buf := &lockedBuffer{wrote: make(chan struct{})}
	clk := newClock()
	b := New(buf, false, 0, clk.now)
	b.Delay = time.Second
	b.Start("Loading m.bin", 0, 0)
	b.Set(5, 10)
	clk.advance(2 * time.Second)
	stop := b.TickEvery(time.Millisecond)
	select {
	case <-buf.wrote:
	case <-time.After(time.Minute):
		t.Fatal("no tick in a minute")
	}
	stop()
	stop()
	if got := buf.String(); !strings.HasPrefix(got, "Loading m.bin: 5 B / 10 B (50%)") {
		t.Errorf("ticked output %q", got)
	}
}

func TestFormat(t *testing.T) {
	for n, s := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 382223725: "382.2 MB", 3055445693: "3.06 GB"} {
		if Bytes(n) != s {
			t.Errorf("Bytes(%d) = %q, want %q", n, Bytes(n), s)
		}
	}
	for d, s := range map[time.Duration]string{5 * time.Second: "5s", 125 * time.Second: "2m05s", 3*time.Hour + 7*time.Minute: "3h07m"} {
		if Duration(d) != s {
			t.Errorf("Duration(%v) = %q, want %q", d, Duration(d), s)
		}
	}
	if Rate(0) != "-- MB/s" || Rate(2.5e6) != "2.5 MB/s" {
		t.Errorf("Rate: %q %q", Rate(0), Rate(2.5e6))
	}
}
