// Package tokenizer turns text into RWKV token ids and back.
//
// Three tokenizers are implemented (spec §9):
//   - World (rwkv_vocab_v20230424.txt, models with vocabulary 65536): greedy
//     longest match over bytes;
//   - NeoX (20B_tokenizer.json, vocabulary 50277 or 50304): the GPT-NeoX 20B
//     byte-level BPE of Hugging Face tokenizers, with its added tokens, NFC
//     normaliser and GPT-2 pre-tokeniser;
//   - bytes (vocabulary 256): one token per byte.
//
// All of them work on bytes: Encode accepts any byte string and Decode
// returns bytes, which need not be valid UTF-8 for a prefix of a token
// sequence. StreamDecoder turns generated ids into printable text.
//
// Select picks the tokenizer that matches a model's vocabulary and finds its
// vocabulary file.
package tokenizer

import "math"

// Tokenizer converts between bytes and token ids. Implementations are safe
// for concurrent use.
type Tokenizer interface {
	// Name is "world", "neox" or "bytes".
	Name() string
	// Encode returns the token ids of b. It never fails.
	Encode(b []byte) []int
	// Decode concatenates the bytes of the tokens. Ids that have no bytes
	// (out of range, World's 0) are skipped; NeoX's added tokens give their text.
	Decode(ids []int) []byte
	// VocabSize is one past the largest id Encode can produce; logits of ids
	// at or above it are masked before sampling (spec §2.2).
	VocabSize() int
	// TokenBytes returns the bytes of one token, or nil if the id has none.
	// The result must not be modified.
	TokenBytes(id int) []byte
}

// Mask returns the ids below modelVocab that t can never produce, whose
// logits must be set to −Inf before sampling: World 65530–65535, NeoX
// 50277–50303 for a padded 50304 vocabulary, nothing for bytes. Id 0, the
// end-of-text token, is not masked: the model emits it to stop.
func Mask(t Tokenizer, modelVocab int) []int {
	var ids []int
	for id := t.VocabSize(); id < modelVocab; id++ {
		ids = append(ids, id)
	}
	return ids
}

// MaskLogits sets the logits of the ids t can never produce to −Inf.
func MaskLogits(t Tokenizer, logits []float32) {
	inf := float32(math.Inf(-1))
	for id := t.VocabSize(); id < len(logits); id++ {
		logits[id] = inf
	}
}

// bytesTok is the byte-level tokenizer of vocabulary 256 (spec §9.3): the id
// is the byte value, with no offset.
type bytesTok struct{}

var byteTable = func() (t [256][1]byte) {
	for i := range t {
		t[i][0] = byte(i)
	}
	return
}()

// Bytes returns the byte-level tokenizer (vocabulary 256, id = byte value).
func Bytes() Tokenizer { return bytesTok{} }

func (bytesTok) Name() string   { return "bytes" }
func (bytesTok) VocabSize() int { return 256 }

func (bytesTok) Encode(b []byte) []int {
	ids := make([]int, len(b))
	for i, c := range b {
		ids[i] = int(c)
	}
	return ids
}

func (bytesTok) Decode(ids []int) []byte {
	out := make([]byte, 0, len(ids))
	for _, id := range ids {
		if id >= 0 && id < 256 {
			out = append(out, byte(id))
		}
	}
	return out
}

func (bytesTok) TokenBytes(id int) []byte {
	if id < 0 || id >= 256 {
		return nil
	}
	return byteTable[id][:]
}
