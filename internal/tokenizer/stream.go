package tokenizer

import "unicode/utf8"

// appendDecoder is implemented by the tokenizers of this package.
type appendDecoder interface {
	AppendDecode(dst []byte, ids []int) []byte
}

// StreamDecoder turns generated ids into printable text (spec §11.4). A
// token may end in the middle of a UTF-8 character (World splits 😀 over
// three tokens), so Write returns only complete characters and keeps an
// incomplete tail until the next token completes it. Bytes that can never
// become valid UTF-8 are passed through as they are once that is certain, so
// output is never lost and never replaced by U+FFFD. Flush returns what is
// left at the end of the stream.
type StreamDecoder struct {
	t       Tokenizer
	pending []byte
	one     [1]int
}

// NewStreamDecoder returns a decoder of t's ids.
func NewStreamDecoder(t Tokenizer) *StreamDecoder {
	return &StreamDecoder{t: t}
}

// Write adds the bytes of one token and returns the text that is ready to
// print, possibly empty.
func (d *StreamDecoder) Write(id int) string {
	d.one[0] = id
	if ad, ok := d.t.(appendDecoder); ok {
		d.pending = ad.AppendDecode(d.pending, d.one[:])
	} else {
		d.pending = append(d.pending, d.t.Decode(d.one[:])...)
	}
	return d.take(completePrefix(d.pending))
}

// WriteBytes adds raw bytes, as Write does for a token's bytes.
func (d *StreamDecoder) WriteBytes(b []byte) string {
	d.pending = append(d.pending, b...)
	return d.take(completePrefix(d.pending))
}

// Flush returns the bytes held back (an incomplete UTF-8 sequence) and
// empties the decoder.
func (d *StreamDecoder) Flush() string {
	return d.take(len(d.pending))
}

// Pending reports how many bytes are held back.
func (d *StreamDecoder) Pending() int { return len(d.pending) }

// Reset drops the bytes held back.
func (d *StreamDecoder) Reset() { d.pending = d.pending[:0] }

func (d *StreamDecoder) take(n int) string {
	if n == 0 {
		return ""
	}
	s := string(d.pending[:n])
	d.pending = d.pending[:copy(d.pending, d.pending[n:])]
	return s
}

// completePrefix returns the length of the longest prefix of b that holds no
// incomplete UTF-8 sequence at its end: everything but a trailing sequence
// that is a valid start of a character still missing bytes.
func completePrefix(b []byte) int {
	i := len(b) - 1
	// A character is at most 4 bytes: look at the last 3 bytes for a start.
	for k := 0; k < utf8.UTFMax-1 && i >= 0; k, i = k+1, i-1 {
		c := b[i]
		if c < 0x80 {
			return len(b)
		}
		if c >= 0xC0 { // a lead byte (or an invalid byte C0/C1/F5–FF)
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
		// continuation byte: keep looking back
	}
	return len(b)
}
