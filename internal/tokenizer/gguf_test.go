package tokenizer

import (
	"bytes"
	"strings"
	"testing"
)

// TestGGUFEscape pins the escaping on tokens of known bytes (Python's
// repr(bytes)[2:-1], as llama.cpp's converter writes them).
func TestGGUFEscape(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
	}{
		{"\n", `\n`},
		{"\n\n", `\n\n`},
		{" \t\t", ` \t\t`},
		{"\r\n  ", `\r\n  `},
		{"\xe5\xbe", `\xe5\xbe`},
		{"\xc2\x80", `\xc2\x80`},
		{"\x00\x1f\x7f", `\x00\x1f\x7f`},
		{"'", `'`},           // b"'": Python switches to double quotes
		{`"`, `"`},           // b'"'
		{`'"`, `\'"`},        // both: single quotes, ' escaped
		{`\`, `\\`},          // b'\\'
		{"User", "User"},     // plain ASCII
		{"é", `\xc3\xa9`},    // UTF-8 bytes are escaped one by one
		{"[PAD1]", "[PAD1]"}, // text that looks like padding is only padding at its own id
	} {
		if got := EscapeGGUFToken([]byte(c.in)); got != c.want {
			t.Errorf("EscapeGGUFToken(%q) = %s, want %s", c.in, got, c.want)
		}
		back, err := unescapeGGUFToken(nil, c.want)
		if err != nil || string(back) != c.in {
			t.Errorf("unescape(%s) = %q, %v; want %q", c.want, back, err, c.in)
		}
	}
	// llama.cpp's unescaper also takes any escaped character as itself.
	if b, err := unescapeGGUFToken(nil, `\q\"\x4A\x4a`); err != nil || string(b) != `q"JJ` {
		t.Errorf(`unescape(\q\"\x4A\x4a) = %q, %v`, b, err)
	}
	for _, bad := range []string{`abc\`, `\x4`, `\xzz`, `\x`} {
		if _, err := unescapeGGUFToken(nil, bad); err == nil {
			t.Errorf("unescape(%s) accepted", bad)
		}
	}
}

// TestGGUFWorldRoundTrip: the real vocabulary written as a GGUF token list
// and read back is the same tokenizer.
func TestGGUFWorldRoundTrip(t *testing.T) {
	w := loadWorld(t)
	toks, err := GGUFTokens(w, 65536)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 65536 || toks[0] != "<s>" || toks[65530] != "[PAD65530]" || toks[65535] != "[PAD65535]" {
		t.Fatalf("token list: %d entries, [0] %q, [65530] %q", len(toks), toks[0], toks[65530])
	}
	if toks[11] != `\n` || toks[261] != `\n\n` || toks[3083] != `\xe5\xbe` || toks[24281] != "User" {
		t.Fatalf("tokens 11, 261, 3083, 24281 = %s %s %s %s", toks[11], toks[261], toks[3083], toks[24281])
	}
	g, err := NewWorldFromTokens(toks)
	if err != nil {
		t.Fatal(err)
	}
	if g.VocabSize() != w.VocabSize() {
		t.Fatalf("VocabSize %d, want %d", g.VocabSize(), w.VocabSize())
	}
	for id := 0; id < 65536; id++ {
		if !bytes.Equal(g.TokenBytes(id), w.TokenBytes(id)) {
			t.Fatalf("token %d: %q, want %q", id, g.TokenBytes(id), w.TokenBytes(id))
		}
	}
	text := []byte("User: hi\n\nAssistant: 我捡到了一只小猫 🐱 \t\t\r\n  x")
	if a, b := g.Encode(text), w.Encode(text); !equalIDs(a, b) {
		t.Fatalf("Encode: %v, want %v", a, b)
	}
	if _, err := GGUFTokens(w, 1000); err == nil {
		t.Fatal("a token list shorter than the vocabulary was accepted")
	}
}

func TestNewWorldFromTokensErrors(t *testing.T) {
	base := make([]string, 257)
	base[0] = "<s>"
	for i := 1; i <= 256; i++ {
		base[i] = EscapeGGUFToken([]byte{byte(i - 1)})
	}
	if w, err := NewWorldFromTokens(base); err != nil || w.VocabSize() != 257 {
		t.Fatalf("byte vocabulary: %v", err)
	}
	for name, c := range map[string]struct {
		edit func([]string) []string
		want string
	}{
		"empty":     {func([]string) []string { return nil }, "no tokens"},
		"only pads": {func([]string) []string { return []string{"<s>", "[PAD1]"} }, "no tokens"},
		"empty token": {func(s []string) []string {
			return append(s, "")
		}, "empty"},
		"duplicate":  {func(s []string) []string { return append(s, `\x00`) }, "same bytes"},
		"bad escape": {func(s []string) []string { return append(s, `ab\x0`) }, "escape"},
		"missing byte": {func(s []string) []string {
			s[66] = "AA" // byte 'A' (0x41) no longer has a token
			return s
		}, "single byte"},
	} {
		toks := c.edit(append([]string(nil), base...))
		_, err := NewWorldFromTokens(toks)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
}
