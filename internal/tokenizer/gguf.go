package tokenizer

import (
	"errors"
	"fmt"
	"strconv"
)

// GGUF files of RWKV World models (llama.cpp's convert_hf_to_gguf.py,
// _set_vocab_rwkv_world; spec §7) store the vocabulary in
// `tokenizer.ggml.tokens`: entry 0 is "<s>", entry i (1 ≤ i ≤ 65529) is the
// bytes of World token i written as Python writes a bytes literal without
// its b'…' (repr(bytes)[2:-1], e.g. `\xe5\xbe`, `\n`, `\\`, `\'`), and the
// list is padded with "[PAD<i>]" up to the model's vocabulary.

// NewWorldFromTokens builds the World tokenizer from a GGUF token list. Entry
// 0 and the "[PAD<i>]" padding entries are not tokens; every other entry is
// unescaped (EscapeGGUFToken's inverse, as llama.cpp's
// llama_unescape_rwkv_token) and must be non-empty.
func NewWorldFromTokens(tokens []string) (*World, error) {
	if len(tokens) > maxWorldID {
		return nil, fmt.Errorf("%d tokens, more than the %d a World vocabulary may have", len(tokens), maxWorldID)
	}
	last := 0
	for i := len(tokens) - 1; i > 0; i-- {
		if !isPad(tokens[i], i) {
			last = i
			break
		}
	}
	if last == 0 {
		return nil, errors.New("the token list holds no tokens")
	}
	w := &World{offs: make([]uint32, last+2)}
	for id := 0; id <= last; id++ {
		w.offs[id] = uint32(len(w.tokens))
		if id == 0 || isPad(tokens[id], id) {
			continue
		}
		n := len(w.tokens)
		var err error
		w.tokens, err = unescapeGGUFToken(w.tokens, tokens[id])
		if err != nil {
			return nil, fmt.Errorf("token %d %s: %w", id, strconv.Quote(clip(tokens[id])), err)
		}
		if len(w.tokens) == n {
			return nil, fmt.Errorf("token %d is empty", id)
		}
	}
	w.offs[last+1] = uint32(len(w.tokens))
	if err := w.buildTrie(); err != nil {
		return nil, err
	}
	return w, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// isPad reports whether entry id is llama.cpp's padding "[PAD<id>]".
func isPad(s string, id int) bool {
	const pre = "[PAD"
	if len(s) < len(pre)+2 || s[:len(pre)] != pre || s[len(s)-1] != ']' {
		return false
	}
	n, err := strconv.Atoi(s[len(pre) : len(s)-1])
	return err == nil && n == id
}

// unescapeGGUFToken appends the bytes of one escaped entry to dst: `\t`,
// `\n`, `\r`, `\xHH` and backslash before any other character (which stands
// for itself: `\\`, `\'`, `\"`).
func unescapeGGUFToken(dst []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i >= len(s) {
			return dst, errors.New("ends with a backslash")
		}
		switch e := s[i]; e {
		case 't':
			dst = append(dst, '\t')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 'x':
			if i+2 >= len(s) {
				return dst, errors.New("truncated \\x escape")
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return dst, fmt.Errorf("bad \\x escape %q", s[i-1:i+3])
			}
			dst = append(dst, hi<<4|lo)
			i += 2
		default:
			dst = append(dst, e)
		}
	}
	return dst, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// EscapeGGUFToken writes token bytes as llama.cpp's converter does:
// Python's repr of a bytes object without the b'…' around it.
func EscapeGGUFToken(b []byte) string {
	// Python quotes with ' unless the bytes hold ' and no ".
	quote := byte('\'')
	hasS, hasD := false, false
	for _, c := range b {
		hasS = hasS || c == '\''
		hasD = hasD || c == '"'
	}
	if hasS && !hasD {
		quote = '"'
	}
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, len(b)+8)
	for _, c := range b {
		switch {
		case c == quote || c == '\\':
			out = append(out, '\\', c)
		case c == '\t':
			out = append(out, '\\', 't')
		case c == '\n':
			out = append(out, '\\', 'n')
		case c == '\r':
			out = append(out, '\\', 'r')
		case c < 0x20 || c >= 0x7f:
			out = append(out, '\\', 'x', hexd[c>>4], hexd[c&15])
		default:
			out = append(out, c)
		}
	}
	return string(out)
}

// GGUFTokens returns the token list of w for a GGUF file of a model with
// vocab entries (≥ w.VocabSize()): "<s>", the escaped tokens, then
// "[PAD<i>]" up to vocab, as llama.cpp writes it. Ids without bytes (none in
// the official vocabulary) are written as padding.
func GGUFTokens(w *World, vocab int) ([]string, error) {
	if vocab < w.VocabSize() {
		return nil, fmt.Errorf("the World vocabulary has %d ids, more than the model's %d", w.VocabSize(), vocab)
	}
	out := make([]string, vocab)
	out[0] = "<s>"
	for id := 1; id < vocab; id++ {
		if b := w.TokenBytes(id); b != nil {
			out[id] = EscapeGGUFToken(b)
		} else {
			out[id] = "[PAD" + strconv.Itoa(id) + "]"
		}
	}
	return out, nil
}
