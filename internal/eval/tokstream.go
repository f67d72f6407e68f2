package eval

import (
	"errors"
	"io"
	"unicode/utf8"

	"github.com/rwkv-chat/rwkv-chat/internal/tokenizer"
)

// TokenReader tokenizes a byte stream of any length a chunk at a time, so
// that only one chunk (plus a short tail) is held in memory, and the ids
// are those that encoding the whole text at once would give:
//
//   - bytes: one id per byte, so every chunk boundary is safe;
//   - World (greedy longest match): the choice of the token that starts
//     at byte s depends only on bytes s … s+L−1, L being the longest token
//     (128 bytes in the official vocabulary), so the tokens that start at
//     least L bytes before the end of the buffer are final; the bytes from
//     the first token that is not are kept for the next chunk;
//   - NeoX and any other tokenizer: the buffer is split before the last
//     single space that follows a printable ASCII character and precedes
//     an ASCII letter or digit. The GPT-2 pre-tokeniser always starts a
//     piece there, no added token of the 20B vocabulary (runs of 2–24
//     spaces, <|endoftext|>, <|padding|>) spans it, and NFC does not
//     compose across it. If 1 MiB passes without such a point, the buffer
//     is cut at a character boundary (the only case where the ids may
//     differ from a whole-text encoding).
type TokenReader struct {
	r        io.Reader
	tok      tokenizer.Tokenizer
	kind     string
	maxTok   int
	readSize int
	buf      []byte
	ids      []int
	eof      bool
	// BytesRead is the number of bytes read from the stream so far.
	BytesRead int64
}

// maxCarry is how far the NeoX split looks for a safe point before it
// cuts anyway.
const maxCarry = 1 << 20

// NewTokenReader reads r in chunks of readSize bytes (≤ 0: 64 KiB).
func NewTokenReader(r io.Reader, tok tokenizer.Tokenizer, readSize int) *TokenReader {
	if readSize <= 0 {
		readSize = 64 << 10
	}
	t := &TokenReader{r: r, tok: tok, readSize: readSize, kind: tok.Name()}
	if t.kind == "world" {
		for id := 0; id < tok.VocabSize(); id++ {
			t.maxTok = max(t.maxTok, len(tok.TokenBytes(id)))
		}
	}
	return t
}

type appendEncoder interface {
	AppendEncode(dst []int, b []byte) []int
}

func (t *TokenReader) encode(dst []int, b []byte) []int {
	if ae, ok := t.tok.(appendEncoder); ok {
		return ae.AppendEncode(dst, b)
	}
	return append(dst, t.tok.Encode(b)...)
}

// Next returns the ids of the next part of the stream, valid until the
// next call; it returns io.EOF (and no ids) after the last part.
func (t *TokenReader) Next() ([]int, error) {
	for {
		if t.eof && len(t.buf) == 0 {
			return nil, io.EOF
		}
		if !t.eof {
			if err := t.fill(); err != nil {
				return nil, err
			}
		}
		ids := t.take()
		if len(ids) > 0 {
			return ids, nil
		}
	}
}

// fill appends up to readSize bytes to the buffer.
func (t *TokenReader) fill() error {
	n0 := len(t.buf)
	if cap(t.buf)-n0 < t.readSize {
		nb := make([]byte, n0, n0+t.readSize+t.readSize/4)
		copy(nb, t.buf)
		t.buf = nb
	}
	n, err := io.ReadFull(t.r, t.buf[n0:n0+t.readSize])
	t.buf = t.buf[:n0+n]
	t.BytesRead += int64(n)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		t.eof = true
	case err != nil:
		return err
	}
	return nil
}

// take encodes the final part of the buffer and keeps the rest.
func (t *TokenReader) take() []int {
	b := t.buf
	t.ids = t.ids[:0]
	if t.eof {
		t.ids = t.encode(t.ids, b)
		t.buf = t.buf[:0]
		return t.ids
	}
	cut := len(b)
	switch t.kind {
	case "bytes":
		t.ids = t.encode(t.ids, b)
	case "world":
		t.ids = t.encode(t.ids, b)
		s, k := 0, 0
		for ; k < len(t.ids); k++ {
			if s+t.maxTok > len(b) {
				break
			}
			s += max(1, len(t.tok.TokenBytes(t.ids[k])))
		}
		t.ids, cut = t.ids[:k], s
	default:
		cut = safeSplit(b)
		if cut == 0 && len(b) >= maxCarry {
			cut = runeStart(b)
		}
		t.ids = t.encode(t.ids, b[:cut])
	}
	t.buf = t.buf[:copy(t.buf, b[cut:])]
	return t.ids
}

// safeSplit returns the index of the last single space in b that follows a
// printable ASCII character and precedes an ASCII letter or digit, or 0.
func safeSplit(b []byte) int {
	for i := len(b) - 2; i > 0; i-- {
		if b[i] == ' ' && b[i-1] > ' ' && b[i-1] < 0x7f && isAlnum(b[i+1]) {
			return i
		}
	}
	return 0
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// runeStart returns the start of the last (possibly incomplete) UTF-8
// character of b, so that no character is split.
func runeStart(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if i == 0 {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}
