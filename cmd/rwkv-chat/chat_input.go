package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"
)

// Multi-line input at the chat prompt.
//
// readline edits one line and sends it on Enter, so pasted text would become
// one message per line. pasteReader sits between the terminal and readline
// and rewrites pasted text before readline sees it:
//
//   - Bracketed paste (the terminal wraps pasted text in ESC[200~ … ESC[201~
//     once the chat asks for it with ESC[?2004h): the newlines and tabs of a
//     short paste become the visible marks ␤ and ␉ on the edited line, which
//     the chat turns back into "\n" and "\t" when the line is sent; a long
//     paste becomes one placeholder, "[paste #N: L lines, B bytes]", that the
//     chat replaces by the text.
//   - Terminals without bracketed paste: a newline that arrives in the same
//     read as more text cannot have been typed (a person's Enter comes alone)
//     and is treated as pasted. A paste longer than the terminal's read size
//     may still be cut into several messages there; `"""` blocks always work.

const (
	pasteStart = "\x1b[200~"
	pasteEnd   = "\x1b[201~"
	// Marks shown on the edited line for a pasted newline and tab.
	markNewline = '␤' // U+2424 SYMBOL FOR NEWLINE
	markTab     = '␉' // U+2409 SYMBOL FOR HORIZONTAL TABULATION
	// Pastes longer than this are replaced by a placeholder: readline redraws
	// the whole line on every rune, which is quadratic in the line length.
	maxInlinePaste = 1000
	// Bracketed paste on and off.
	pasteModeOn  = "\x1b[?2004h"
	pasteModeOff = "\x1b[?2004l"
)

// pasteStore keeps the long pastes replaced by placeholders.
type pasteStore struct {
	mu    sync.Mutex
	texts map[string]string
	n     int
}

func (p *pasteStore) add(text string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.texts == nil {
		p.texts = map[string]string{}
	}
	p.n++
	lines := strings.Count(strings.TrimRight(text, "\n"), "\n") + 1
	key := fmt.Sprintf("[paste #%d: %d lines, %d bytes]", p.n, lines, len(text))
	p.texts[key] = text
	return key
}

// expand turns a line as edited (marks and placeholders) back into the text
// it stands for.
func (p *pasteStore) expand(line string) string {
	line = strings.NewReplacer(string(markNewline), "\n", string(markTab), "\t").Replace(line)
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, v := range p.texts {
		line = strings.ReplaceAll(line, k, v)
	}
	return line
}

// historyLine encodes a message as one history line (readline's history file
// holds one line per entry); "" when it is too long to be worth keeping.
func historyLine(text string) string {
	if len(text) > 4096 {
		return ""
	}
	return strings.NewReplacer("\r\n", string(markNewline), "\n", string(markNewline), "\r", string(markNewline),
		"\t", string(markTab)).Replace(text)
}

// pasteReader rewrites pasted text from r as described above.
type pasteReader struct {
	r      io.Reader
	store  *pasteStore
	detect bool // recognise pastes without brackets (interactive only)

	raw   []byte // read but not yet processed (a possible partial marker)
	out   []byte // processed, for the caller
	paste []byte // inside a bracketed paste
	in    bool   // inside a bracketed paste
	chunk []byte
	err   error
}

func newPasteReader(r io.Reader, store *pasteStore, detect bool) *pasteReader {
	return &pasteReader{r: r, store: store, detect: detect, chunk: make([]byte, 4096)}
}

func (p *pasteReader) Read(b []byte) (int, error) {
	for len(p.out) == 0 {
		if p.err != nil {
			if len(p.raw) > 0 { // a lone partial marker at EOF: pass it on
				p.out, p.raw = p.raw, nil
				break
			}
			return 0, p.err
		}
		n, err := p.r.Read(p.chunk)
		p.err = err
		p.process(p.chunk[:n])
	}
	n := copy(b, p.out)
	p.out = p.out[n:]
	return n, nil
}

// process consumes one read's worth of input.
func (p *pasteReader) process(data []byte) {
	data = append(p.raw, data...)
	p.raw = nil
	var plain []byte // text outside brackets, in this read
	for len(data) > 0 {
		if p.in {
			if k := bytes.Index(data, []byte(pasteEnd)); k >= 0 {
				p.paste = append(p.paste, data[:k]...)
				data = data[k+len(pasteEnd):]
				p.in = false
				plain = append(plain, p.pasted(string(p.paste))...)
				p.paste = p.paste[:0]
				continue
			}
			keep := partialSuffix(data, pasteEnd)
			p.paste = append(p.paste, data[:len(data)-keep]...)
			p.raw = append(p.raw, data[len(data)-keep:]...)
			break
		}
		if k := bytes.Index(data, []byte(pasteStart)); k >= 0 {
			plain = append(plain, data[:k]...)
			data = data[k+len(pasteStart):]
			p.in = true
			continue
		}
		keep := partialSuffix(data, pasteStart)
		plain = append(plain, data[:len(data)-keep]...)
		p.raw = append(p.raw, data[len(data)-keep:]...)
		break
	}
	if p.detect {
		plain = joinTypedAhead(plain)
	}
	p.out = append(p.out, plain...)
}

// pasted renders the text of one bracketed paste for the edited line.
func (p *pasteReader) pasted(text string) []byte {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	// Control characters would act as editing keys (Ctrl-C, Ctrl-D, …).
	text = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || (r >= 0x20 && r != 0x7f) {
			return r
		}
		return -1
	}, text)
	if len(text) > maxInlinePaste || !utf8.ValidString(text) {
		return []byte(p.store.add(text))
	}
	return []byte(strings.NewReplacer("\n", string(markNewline), "\t", string(markTab)).Replace(text))
}

// joinTypedAhead marks the newlines of one read that are followed by more
// text in the same read as pasted (and the read's tabs with them): only a
// final newline sends the line.
func joinTypedAhead(b []byte) []byte {
	end := len(b)
	for end > 0 && (b[end-1] == '\r' || b[end-1] == '\n') {
		end--
	}
	if bytes.IndexAny(b[:end], "\r\n") < 0 {
		return b
	}
	body := strings.ReplaceAll(string(b[:end]), "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	body = strings.NewReplacer("\n", string(markNewline), "\t", string(markTab)).Replace(body)
	if end < len(b) {
		body += "\r"
	}
	return []byte(body)
}

// partialSuffix is the length of the longest proper prefix of marker that
// ends data.
func partialSuffix(data []byte, marker string) int {
	for k := min(len(marker)-1, len(data)); k > 0; k-- {
		if bytes.HasSuffix(data, []byte(marker[:k])) {
			return k
		}
	}
	return 0
}
