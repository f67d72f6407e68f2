package tokenizer

import (
	"bytes"
	"os"
	"testing"
	"unicode/utf8"
)

// FuzzWorldVocab feeds garbage to the World vocabulary parser: it must
// return an error or a working tokenizer, never panic.
func FuzzWorldVocab(f *testing.F) {
	var base bytes.Buffer
	for b := 0; b < 256; b++ {
		base.WriteString(itoa(b+1) + " b'\\x" + hex2(b) + "' 1\n")
	}
	f.Add(base.Bytes())
	f.Add(append(bytes.Clone(base.Bytes()), "257 'a b' 3\n258 '\\u4e2d\\x80' 5\n259 b'\\xe5\\xbe' 2\n"...))
	f.Add([]byte("1 '\\x00' 1\n"))
	f.Add([]byte("12 '\\'\" 2\n"))
	if data, err := os.ReadFile(sharedPath("tokenizers/" + WorldFile)); err == nil {
		f.Add(data[:min(len(data), 1<<12)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := ParseWorld(data)
		if err != nil {
			return
		}
		for _, in := range [][]byte{data, []byte("hello world"), {0xff, 0x00, 0xe2, 0x82}} {
			ids := w.Encode(in)
			for _, id := range ids {
				if id <= 0 || id >= w.VocabSize() {
					t.Fatalf("id %d out of range", id)
				}
			}
			if got := w.Decode(ids); !bytes.Equal(got, in) {
				t.Fatalf("round trip %q → %q", in, got)
			}
		}
	})
}

// FuzzNeoXJSON feeds garbage to the tokenizer JSON reader: it must return
// an error or a working tokenizer, never panic.
func FuzzNeoXJSON(f *testing.F) {
	f.Add([]byte(miniNeoXJSON))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2,"Ġ":3,"Ġab":4},"merges":["a b",["Ġ","ab"]]},
		"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false},"normalizer":{"type":"NFC"},
		"added_tokens":[{"id":5,"content":"<s>","special":true},{"id":6,"content":"  ","normalized":true}]}`))
	f.Add([]byte(`{"model":{"vocab":{}}}`))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":99999999}},"pre_tokenizer":{"type":"ByteLevel"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := ParseNeoX(data)
		if err != nil {
			return
		}
		for _, in := range [][]byte{data, []byte("ab ab<s>a  b"), []byte("e\u0301 \xff\xc3")} {
			ids := x.Encode(in)
			for _, id := range ids {
				if id < 0 || id >= x.VocabSize() {
					t.Fatalf("id %d out of range", id)
				}
			}
			x.Decode(ids)
		}
	})
}

// FuzzWorldEncode checks the round trip of the real World vocabulary.
func FuzzWorldEncode(f *testing.F) {
	w := loadWorld(f)
	f.Add([]byte("Hello world"))
	f.Add([]byte("🐱 emoji \xff\xfe"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if got := w.Decode(w.Encode(in)); !bytes.Equal(got, in) {
			t.Fatalf("round trip %q → %q", in, got)
		}
	})
}

// FuzzNeoXEncode checks the round trip of the real NeoX tokenizer on text
// that is already NFC, and that any input encodes.
func FuzzNeoXEncode(f *testing.F) {
	x := loadNeoX(f)
	f.Add([]byte("Hello world"))
	f.Add([]byte("a   b\n\n  c<|endoftext|>d's"))
	f.Add([]byte("e\u0301\u0323 \xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ids := x.Encode(in)
		if !utf8.Valid(in) {
			return
		}
		want := nfcOf(in)
		if got := x.Decode(ids); !bytes.Equal(got, want) {
			t.Fatalf("round trip %q → %q, want %q", in, got, want)
		}
	})
}
