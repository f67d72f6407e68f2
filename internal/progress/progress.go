// Package progress shows how far a long operation counted in bytes is (a
// download, the loading of a model): on a terminal one line redrawn in
// place, elsewhere a plain line every few seconds, so that logs stay short.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// How often progress is shown: a terminal bar is redrawn in place, plain
// output gets one line per period.
const (
	TTYPeriod   = 200 * time.Millisecond
	PlainPeriod = 5 * time.Second
)

// Bar reports the progress of one operation at a time on a writer. Its
// methods may be called from several goroutines (the operation's and a
// ticker's, see TickEvery).
type Bar struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	width int
	now   func() time.Time

	// Delay, when positive, keeps the display hidden until the operation
	// has run that long (set it before Start): operations that end sooner
	// print nothing at all.
	Delay time.Duration

	name  string
	total int64 // expected size, 0 when unknown
	base  int64 // bytes already there when the operation began (a resumed download)
	done  int64 // bytes there now, base included

	t0, next time.Time
	drawn    int  // width of the bar on screen, to blank it out
	shown    bool // something was displayed since Start
	running  bool // between Start and Finish, Clear or Abort
}

// New makes a bar that writes to w (nil: nowhere). tty says w is a terminal
// width columns wide (≤ 0: 80); now is the clock (nil: time.Now).
func New(w io.Writer, tty bool, width int, now func() time.Time) *Bar {
	if w == nil {
		w = io.Discard
	}
	if width <= 0 {
		width = 80
	}
	if now == nil {
		now = time.Now
	}
	return &Bar{w: w, tty: tty, width: width, now: now}
}

func (b *Bar) period() time.Duration {
	if b.tty {
		return TTYPeriod
	}
	return PlainPeriod
}

// Start begins the display of an operation called name, out of total bytes
// (0 when unknown), of which base are already done before it starts and do
// not count towards the rate. Nothing is drawn yet: the first display comes
// after Delay, or after one period when there is no delay.
func (b *Bar) Start(name string, base, total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.name, b.base, b.done, b.total = name, base, base, total
	b.t0 = b.now()
	first := b.Delay
	if first <= 0 {
		first = b.period()
	}
	b.next = b.t0.Add(first)
	b.shown = false
	b.running = true
}

// Add counts n more bytes done and redraws when it is time to.
func (b *Bar) Add(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	b.tick()
}

// Set sets the bytes done and the total (0: keep the total), and redraws
// when it is time to.
func (b *Bar) Set(done, total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = done
	if total > 0 {
		b.total = total
	}
	b.tick()
}

// Write counts len(p) bytes done, so that a Bar can sit behind an
// io.TeeReader or io.MultiWriter.
func (b *Bar) Write(p []byte) (int, error) {
	b.Add(int64(len(p)))
	return len(p), nil
}

// Tick redraws when it is time to, even though nothing was counted since
// the last time: the display then appears after Delay and the elapsed time
// and rate stay current while the operation is stuck in a long step.
func (b *Bar) Tick() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tick()
}

// TickEvery calls Tick every d on a goroutine of its own until stop is
// called; stop waits for that goroutine to end.
func (b *Bar) TickEvery(d time.Duration) (stop func()) {
	quit, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.Tick()
			case <-quit:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit); <-ended })
	}
}

func (b *Bar) tick() {
	if !b.running {
		return
	}
	t := b.now()
	if t.Before(b.next) {
		return
	}
	b.next = t.Add(b.period())
	b.show()
}

// Draw shows the current state now: the bar on a terminal, else one line.
func (b *Bar) Draw() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.show()
}

func (b *Bar) show() {
	b.shown = true
	if b.tty {
		b.draw()
		return
	}
	fmt.Fprintln(b.w, b.line())
}

// Note prints a message on a line of its own (blanking the bar first).
func (b *Bar) Note(format string, a ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.erase()
	fmt.Fprintf(b.w, format+"\n", a...)
}

// Finish ends the display and leaves a record of it: on a terminal the
// final bar stays on its line, elsewhere a summary line is printed.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.running = false
	if b.tty {
		b.draw()
		fmt.Fprintln(b.w)
		b.drawn = 0
		return
	}
	b.summary()
}

// Clear ends the display and leaves as little as possible: a terminal bar
// is blanked out, and plain output gets a summary line only when progress
// lines were printed. An operation that ended before Delay prints nothing.
func (b *Bar) Clear() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.running = false
	if b.tty {
		b.erase()
		return
	}
	if b.shown {
		b.summary()
	}
}

// Abort ends the display of an operation that failed, keeping the last
// bar on screen for the error that follows.
func (b *Bar) Abort() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.running = false
	if b.tty && b.drawn > 0 {
		fmt.Fprintln(b.w)
		b.drawn = 0
	}
}

func (b *Bar) summary() {
	el := b.now().Sub(b.t0)
	fmt.Fprintf(b.w, "%s: %s in %s (%s)\n", b.name, Bytes(b.done-b.base), Duration(el), Rate(b.rate(el)))
}

func (b *Bar) erase() {
	if b.tty && b.drawn > 0 {
		fmt.Fprintf(b.w, "\r%s\r", strings.Repeat(" ", b.drawn))
		b.drawn = 0
	}
}

func (b *Bar) rate(el time.Duration) float64 {
	if el < 500*time.Millisecond {
		return 0
	}
	return float64(b.done-b.base) / el.Seconds()
}

// stats gives the amount, the rate and the time left as text.
func (b *Bar) stats() (amount, rate, eta string) {
	el := b.now().Sub(b.t0)
	r := b.rate(el)
	amount = Bytes(b.done)
	if b.total > 0 {
		amount += " / " + Bytes(b.total)
	}
	rate = Rate(r)
	eta = "--"
	if b.total > 0 && r > 0 && b.done <= b.total {
		eta = Duration(time.Duration(float64(b.total-b.done) / r * float64(time.Second)))
	}
	return
}

// line is the periodic plain-text report.
func (b *Bar) line() string {
	amount, rate, eta := b.stats()
	pct := ""
	if b.total > 0 {
		pct = fmt.Sprintf(" (%d%%)", percent(b.done, b.total))
	}
	return fmt.Sprintf("%s: %s%s, %s, %s left", b.name, amount, pct, rate, eta)
}

// bar is the one-line terminal display, at most width-1 columns.
func (b *Bar) bar() string {
	amount, rate, eta := b.stats()
	right := fmt.Sprintf(" %s  %s  ETA %s", amount, rate, eta)
	name := b.name
	pct := ""
	if b.total > 0 {
		pct = fmt.Sprintf(" %3d%%", percent(b.done, b.total))
	}
	width := b.width - 1
	// name, percentage, [bar], right part; the bar gets what is left, and
	// the name is shortened when even a short bar does not fit.
	const minBar = 10
	if n := width - len(pct) - len(right) - minBar - 3; runeLen(name) > n {
		n = max(n, 8)
		if r := []rune(name); len(r) > n {
			name = string(r[:n-1]) + "…"
		}
	}
	barw := min(width-runeLen(name)-len(pct)-len(right)-3, 40)
	s := name + pct
	if barw >= minBar && b.total > 0 {
		fill := int(float64(barw) * float64(min(b.done, b.total)) / float64(b.total))
		bb := strings.Repeat("=", fill)
		if fill < barw {
			bb += ">" + strings.Repeat(" ", barw-fill-1)
		}
		s += " [" + bb + "]"
	}
	s += right
	if runeLen(s) > width {
		s = string([]rune(s)[:width])
	}
	return s
}

func (b *Bar) draw() {
	s := b.bar()
	pad := ""
	if n := runeLen(s); n < b.drawn {
		pad = strings.Repeat(" ", b.drawn-n)
	}
	fmt.Fprintf(b.w, "\r%s%s", s, pad)
	b.drawn = runeLen(s)
}

func runeLen(s string) int { return len([]rune(s)) }

func percent(done, total int64) int {
	if total <= 0 {
		return 0
	}
	return int(min(done, total) * 100 / total)
}

// Bytes writes n bytes in decimal units (kB, MB, GB).
func Bytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	}
}

// Rate writes a rate in bytes per second; 0 (not known yet) is "--".
func Rate(r float64) string {
	if r <= 0 {
		return "-- MB/s"
	}
	return Bytes(int64(r)) + "/s"
}

// Duration writes d rounded to the second: 5s, 2m05s, 3h07m.
func Duration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	default:
		return fmt.Sprintf("%dh%02dm", s/3600, s/60%60)
	}
}
