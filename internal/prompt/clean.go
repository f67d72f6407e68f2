package prompt

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Clean prepares a user or system message for insertion into a chat turn
// (spec §10.1). It reproduces the G1 template file and API_DEMO_WORLD
//
//	re.sub(r'\n{2,}', '\n', txt.replace('\r\n', '\n')).strip()
//
// byte for byte: every "\r\n" becomes "\n" (a single left-to-right pass, as
// Python's str.replace), every run of two or more newlines becomes one
// newline, and surrounding whitespace is removed with Python's definition of
// whitespace (str.isspace: Go's unicode.IsSpace plus U+001C…U+001F).
//
// The result never contains "\n\n", the turn separator the model was trained
// on. Like the reference it is not always idempotent: a lone "\r" before
// "\r\n" survives one pass ("\r\r\n" → "\r\n").
func Clean(msg string) string {
	s := strings.ReplaceAll(msg, "\r\n", "\n")
	if strings.Contains(s, "\n\n") {
		var b strings.Builder
		b.Grow(len(s))
		prevNL := false
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '\n' {
				if prevNL {
					continue
				}
				prevNL = true
			} else {
				prevNL = false
			}
			b.WriteByte(c)
		}
		s = b.String()
	}
	return strings.TrimFunc(s, isPySpace)
}

// isPySpace reports whether Python's str.isspace() is true for r.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// restateMax is the longest restatement of a question, in runes, before it
// is shortened (see oneLine).
const restateMax = 200

// oneLine turns a question into the one short line used to restate it after
// a document: the cleaned question with every whitespace run (newlines
// included) replaced by one space; longer than restateMax runes, it is cut at
// the last space before the limit (or at the limit when there is none in its
// second half) and "..." is appended.
func oneLine(q string) string {
	s := strings.Join(strings.FieldsFunc(Clean(q), isPySpace), " ")
	if utf8.RuneCountInString(s) <= restateMax {
		return s
	}
	cut, n := 0, 0
	for i := range s {
		if n == restateMax {
			cut = i
			break
		}
		n++
	}
	head := s[:cut]
	if sp := strings.LastIndexByte(head, ' '); sp >= len(head)/2 {
		head = head[:sp]
	}
	return head + "..."
}
