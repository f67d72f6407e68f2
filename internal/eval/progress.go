package eval

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress shows how far a long evaluation is. On a terminal it redraws
// one line in place (a bar when the total is known) at most 10 times a
// second; otherwise it prints a plain line every Interval (default 10 s)
// and one at the end, so that logs stay short.
type Progress struct {
	w        io.Writer
	tty      bool
	label    string
	unit     string
	total    int64
	Interval time.Duration
	// Scale divides the counts for display (1e6 with unit "MB" shows bytes
	// as megabytes); 0 means 1.
	Scale float64
	now   func() time.Time

	mu      sync.Mutex
	start   time.Time
	last    time.Time
	done    int64
	extra   string
	printed int64 // done at the last line drawn (−1: none)
	stopped bool
}

// NewProgress reports to w (nil: nowhere) the progress of label, counted in
// unit, out of total (≤ 0: unknown).
func NewProgress(w io.Writer, tty bool, label, unit string, total int64) *Progress {
	now := time.Now
	return &Progress{w: w, tty: tty, label: label, unit: unit, total: total, Interval: 10 * time.Second,
		now: now, start: now(), last: now(), printed: -1}
}

// Update sets the amount done and a short status text (e.g. "ppl 12.3").
func (p *Progress) Update(done int64, extra string) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.done, p.extra = done, extra
	t := p.now()
	every := p.Interval
	if p.tty {
		every = 100 * time.Millisecond
	}
	if t.Sub(p.last) < every {
		return
	}
	p.last = t
	p.draw(t)
}

// Finish draws the final state (unless that line is already shown) and
// ends the line.
func (p *Progress) Finish() {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	if p.tty || p.done != p.printed {
		p.draw(p.now())
	}
	if p.tty {
		fmt.Fprint(p.w, "\n")
	}
	p.stopped = true
}

func (p *Progress) draw(t time.Time) {
	el := t.Sub(p.start).Seconds()
	var b strings.Builder
	b.WriteString(p.label)
	scale, num := p.Scale, func(v int64) string { return fmt.Sprint(v) }
	if scale > 0 && scale != 1 {
		num = func(v int64) string { return fmt.Sprintf("%.1f", float64(v)/scale) }
	} else {
		scale = 1
	}
	if p.total > 0 {
		frac := min(float64(p.done)/float64(p.total), 1)
		if p.tty {
			const width = 30
			n := int(frac * width)
			b.WriteString(" [" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "]")
		}
		fmt.Fprintf(&b, " %s/%s %s (%.0f%%)", num(p.done), num(p.total), p.unit, 100*frac)
	} else {
		fmt.Fprintf(&b, " %s %s", num(p.done), p.unit)
	}
	if el > 0 {
		fmt.Fprintf(&b, ", %.3g %s/s", float64(p.done)/scale/el, p.unit)
		if p.total > 0 && p.done > 0 && p.done < p.total {
			eta := time.Duration(el * float64(p.total-p.done) / float64(p.done) * float64(time.Second))
			fmt.Fprintf(&b, ", ETA %s", eta.Round(time.Second))
		}
	}
	if p.extra != "" {
		b.WriteString(", " + p.extra)
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", b.String())
	} else {
		fmt.Fprintln(p.w, b.String())
	}
	p.printed = p.done
}
