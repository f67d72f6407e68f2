package hub

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// How often progress is shown: a terminal bar is redrawn in place, plain
// output gets one line per period.
const (
	ttyPeriod   = 200 * time.Millisecond
	plainPeriod = 5 * time.Second
)

// progress counts the bytes written through it and reports them on w.
type progress struct {
	w     io.Writer
	tty   bool
	width int
	now   func() time.Time

	name  string
	total int64 // expected size, 0 when unknown
	start int64 // bytes already there when this transfer began
	done  int64 // bytes there now, start included

	t0, last time.Time
	drawn    int // width of the last bar drawn, to blank it out
}

func newProgress(w io.Writer, tty bool, width int, now func() time.Time) *progress {
	if w == nil {
		w = io.Discard
	}
	if width <= 0 {
		width = 80
	}
	if now == nil {
		now = time.Now
	}
	return &progress{w: w, tty: tty, width: width, now: now}
}

// note prints a message on a line of its own.
func (p *progress) note(format string, a ...any) {
	p.clear()
	fmt.Fprintf(p.w, format+"\n", a...)
}

// begin starts a transfer of name from offset start (a resumed download)
// out of total bytes (0 when unknown).
func (p *progress) begin(name, from string, start, total int64) {
	p.name, p.start, p.done, p.total = name, start, start, total
	p.t0 = p.now()
	p.last = p.t0
	size := ""
	if total > 0 {
		size = " (" + formatBytes(total) + ")"
	}
	if start > 0 {
		p.note("Resuming %s%s at %s from %s", name, size, formatBytes(start), from)
	} else {
		p.note("Downloading %s%s from %s", name, size, from)
	}
	if p.tty {
		p.draw()
	}
}

func (p *progress) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	period := plainPeriod
	if p.tty {
		period = ttyPeriod
	}
	if t := p.now(); t.Sub(p.last) >= period {
		p.last = t
		if p.tty {
			p.draw()
		} else {
			fmt.Fprintln(p.w, p.line())
		}
	}
	return len(b), nil
}

// end finishes the transfer's display: the full bar, or a summary line.
func (p *progress) end() {
	if p.tty {
		p.draw()
		fmt.Fprintln(p.w)
		p.drawn = 0
		return
	}
	el := p.now().Sub(p.t0)
	fmt.Fprintf(p.w, "%s: %s in %s (%s)\n", p.name, formatBytes(p.done-p.start), formatDuration(el), formatRate(p.rate(el)))
}

// abort ends the display of a transfer that failed.
func (p *progress) abort() {
	if p.tty && p.drawn > 0 {
		fmt.Fprintln(p.w)
		p.drawn = 0
	}
}

func (p *progress) clear() {
	if p.tty && p.drawn > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.drawn))
		p.drawn = 0
	}
}

func (p *progress) rate(el time.Duration) float64 {
	if el < 500*time.Millisecond {
		return 0
	}
	return float64(p.done-p.start) / el.Seconds()
}

// stats gives the amount, the rate and the time left as text.
func (p *progress) stats() (amount, rate, eta string) {
	el := p.now().Sub(p.t0)
	r := p.rate(el)
	amount = formatBytes(p.done)
	if p.total > 0 {
		amount += " / " + formatBytes(p.total)
	}
	rate = formatRate(r)
	eta = "--"
	if p.total > 0 && r > 0 && p.done <= p.total {
		eta = formatDuration(time.Duration(float64(p.total-p.done) / r * float64(time.Second)))
	}
	return
}

// line is the periodic plain-text report.
func (p *progress) line() string {
	amount, rate, eta := p.stats()
	pct := ""
	if p.total > 0 {
		pct = fmt.Sprintf(" (%d%%)", percent(p.done, p.total))
	}
	return fmt.Sprintf("%s: %s%s, %s, %s left", p.name, amount, pct, rate, eta)
}

// bar is the one-line terminal display, at most width-1 columns.
func (p *progress) bar() string {
	amount, rate, eta := p.stats()
	right := fmt.Sprintf(" %s  %s  ETA %s", amount, rate, eta)
	name := p.name
	pct := ""
	if p.total > 0 {
		pct = fmt.Sprintf(" %3d%%", percent(p.done, p.total))
	}
	width := p.width - 1
	// name, percentage, [bar], right part; the bar gets what is left, and
	// the name is shortened when even a short bar does not fit.
	const minBar = 10
	if n := width - len(pct) - len(right) - minBar - 3; runeLen(name) > n {
		n = max(n, 8)
		if r := []rune(name); len(r) > n {
			name = string(r[:n-1]) + "…"
		}
	}
	barw := width - runeLen(name) - len(pct) - len(right) - 3
	if barw > 40 {
		barw = 40
	}
	s := name + pct
	if barw >= minBar && p.total > 0 {
		fill := int(float64(barw) * float64(min(p.done, p.total)) / float64(p.total))
		b := strings.Repeat("=", fill)
		if fill < barw {
			b += ">" + strings.Repeat(" ", barw-fill-1)
		}
		s += " [" + b + "]"
	}
	s += right
	if runeLen(s) > width {
		s = string([]rune(s)[:width])
	}
	return s
}

func (p *progress) draw() {
	s := p.bar()
	pad := ""
	if n := runeLen(s); n < p.drawn {
		pad = strings.Repeat(" ", p.drawn-n)
	}
	fmt.Fprintf(p.w, "\r%s%s", s, pad)
	p.drawn = runeLen(s)
}

func runeLen(s string) int { return len([]rune(s)) }

func percent(done, total int64) int {
	if total <= 0 {
		return 0
	}
	return int(min(done, total) * 100 / total)
}

// FormatSize writes n bytes in decimal units, as the Hub shows file sizes.
func FormatSize(n int64) string { return formatBytes(n) }

func formatBytes(n int64) string {
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

func formatRate(r float64) string {
	if r <= 0 {
		return "-- MB/s"
	}
	return formatBytes(int64(r)) + "/s"
}

func formatDuration(d time.Duration) string {
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
