package main

import (
	"io"
	"strings"
	"testing"
)

// chunks is a reader that returns one chunk per Read, like a terminal.
type chunks []string

func (c *chunks) Read(b []byte) (int, error) {
	if len(*c) == 0 {
		return 0, io.EOF
	}
	n := copy(b, (*c)[0])
	if n < len((*c)[0]) {
		(*c)[0] = (*c)[0][n:]
	} else {
		*c = (*c)[1:]
	}
	return n, nil
}

func readPasted(t *testing.T, detect bool, in ...string) (string, *pasteStore) {
	t.Helper()
	c := chunks(in)
	store := &pasteStore{}
	b, err := io.ReadAll(newPasteReader(&c, store, detect))
	if err != nil {
		t.Fatal(err)
	}
	return string(b), store
}

func TestPasteReader(t *testing.T) {
	cases := []struct {
		name   string
		detect bool
		in     []string
		want   string
	}{
		{"typed", true, []string{"h", "i", "\r"}, "hi\r"},
		{"typed line in one read", true, []string{"hello\r"}, "hello\r"},
		{"unbracketed paste", true, []string{"one\rtwo\r\nthree\r"}, "one␤two␤three\r"},
		{"unbracketed paste, tab", true, []string{"a\tb\nc"}, "a␉b␤c"},
		{"piped input keeps lines", false, []string{"one\ntwo\n"}, "one\ntwo\n"},
		{"bracketed", true, []string{"\x1b[200~a\r\nb\tc\x1b[201~\r"}, "a␤b␉c\r"},
		{"bracketed, split markers", true, []string{"x\x1b[20", "0~p1\np", "2\x1b[2", "01~", "\r"}, "xp1␤p2\r"},
		{"bracketed, controls dropped", false, []string{"\x1b[200~a\x03b\x04c\x7f\x1b[201~"}, "abc"},
		{"bracketed, one line", true, []string{"\x1b[200~just text\x1b[201~"}, "just text"},
		{"arrow keys pass", true, []string{"\x1b[A", "\x1b[B", "\x1b"}, "\x1b[A\x1b[B\x1b"},
	}
	for _, c := range cases {
		got, store := readPasted(t, c.detect, c.in...)
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		if strings.ContainsRune(c.want, markNewline) && !strings.Contains(store.expand(got), "\n") {
			t.Errorf("%s: expand(%q) = %q", c.name, got, store.expand(got))
		}
	}

	// A long paste is one placeholder, expanded when the line is sent.
	long := strings.Repeat("a line of text\n", 200)
	got, store := readPasted(t, true, "say: \x1b[200~"+long[:1000], long[1000:]+"\x1b[201~", "\r")
	if got != "say: [paste #1: 200 lines, 3000 bytes]\r" {
		t.Fatalf("long paste: %q", got)
	}
	if exp := store.expand(strings.TrimSuffix(got, "\r")); exp != "say: "+long {
		t.Fatalf("expanded: %q", exp[:40])
	}
	if h := historyLine("a\nb\tc"); h != "a␤b␉c" || store.expand(h) != "a\nb\tc" {
		t.Fatalf("history line %q", h)
	}
}
