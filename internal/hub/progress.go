package hub

import (
	"io"
	"time"

	pbar "github.com/rwkv-chat/rwkv-chat/internal/progress"
)

// progress counts the bytes written through it and reports them on its
// writer (the shared bar of internal/progress, with the download's notes).
type progress struct {
	bar *pbar.Bar
	tty bool
}

func newProgress(w io.Writer, tty bool, width int, now func() time.Time) *progress {
	return &progress{bar: pbar.New(w, tty, width, now), tty: tty}
}

// note prints a message on a line of its own.
func (p *progress) note(format string, a ...any) { p.bar.Note(format, a...) }

// begin starts a transfer of name from offset start (a resumed download)
// out of total bytes (0 when unknown).
func (p *progress) begin(name, from string, start, total int64) {
	p.bar.Start(name, start, total)
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
		p.bar.Draw()
	}
}

func (p *progress) Write(b []byte) (int, error) { return p.bar.Write(b) }

// end finishes the transfer's display: the full bar, or a summary line.
func (p *progress) end() { p.bar.Finish() }

// abort ends the display of a transfer that failed.
func (p *progress) abort() { p.bar.Abort() }

// FormatSize writes n bytes in decimal units, as the Hub shows file sizes.
func FormatSize(n int64) string { return formatBytes(n) }

func formatBytes(n int64) string { return pbar.Bytes(n) }

func formatDuration(d time.Duration) string { return pbar.Duration(d) }
