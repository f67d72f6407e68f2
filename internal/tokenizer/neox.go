package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// NeoXFile is the file name of the GPT-NeoX 20B tokenizer.
const NeoXFile = "20B_tokenizer.json"

// maxNeoXID bounds the ids a tokenizer JSON may use.
const maxNeoXID = 1 << 20

// NeoX is the GPT-NeoX 20B byte-level BPE tokenizer read from a Hugging Face
// tokenizer.json (spec §9.2), reproducing tokenizers' encode():
//
//  1. added tokens that are not normalized (<|endoftext|>, <|padding|>) are
//     split off the raw text, leftmost-longest;
//  2. each remaining segment is NFC-normalised (Unicode 9.0, as the
//     reference) when the JSON asks for it;
//  3. normalized added tokens (the runs of 2–24 spaces) are split off;
//  4. the GPT-2 pre-tokeniser splits the rest into pieces;
//  5. each piece's bytes are merged by BPE rank.
//
// Input that is not valid UTF-8, which the reference cannot receive, is
// handled as far as the vocabulary allows: each invalid byte is a character
// of its own that is neither letter, digit nor space, NFC leaves it alone,
// and BPE encodes it as its byte-level symbol. The 20B vocabulary has no
// symbol for the 13 bytes that never occur in UTF-8 (C0, C1, F5–FF): like the
// reference's BPE for characters missing from a vocabulary without an unknown
// token, Encode drops them. So Decode(Encode(b)) == NFC(b) without those bytes.
//
// Decode gives every token's bytes, the added tokens' text included (the
// reference's decode without skip_special_tokens), so Decode(Encode(x)) is
// NFC(x); IsSpecial tells <|endoftext|> and <|padding|> apart.
type NeoX struct {
	tokens  []byte
	offs    []uint32
	special []bool // special added tokens
	nfc     bool

	byteSym [256]int32 // id of each byte's single-character token
	merges  mergeTable

	raw  addedSet // added tokens matched on the raw text
	norm addedSet // added tokens matched on the normalised text

	pool sync.Pool // *neoxScratch
}

// addedSet is a set of added tokens matched leftmost-longest.
type addedSet struct {
	first  [256]bool
	single [256]bool      // a one-byte token is this byte
	second [256][4]uint64 // bit c of second[a]: a token starts with a, c
	toks   []addedTok     // sorted by length, longest first
}

func (a *addedSet) add(tok addedTok) {
	a.toks = append(a.toks, tok)
	c0 := tok.content[0]
	a.first[c0] = true
	if len(tok.content) == 1 {
		a.single[c0] = true
	} else {
		c1 := tok.content[1]
		a.second[c0][c1>>6] |= 1 << (c1 & 63)
	}
}

type addedTok struct {
	content []byte
	id      int32
}

// find returns the leftmost-longest match in s: start, end and id, or
// start = −1.
func (a *addedSet) find(s []byte) (int, int, int32) {
	if len(a.toks) == 0 {
		return -1, 0, 0
	}
	for i := 0; i < len(s); i++ {
		c0 := s[i]
		if !a.first[c0] {
			continue
		}
		if !a.single[c0] && (i+1 == len(s) || a.second[c0][s[i+1]>>6]&(1<<(s[i+1]&63)) == 0) {
			continue
		}
		for _, t := range a.toks {
			if bytes.HasPrefix(s[i:], t.content) {
				return i, i + len(t.content), t.id
			}
		}
	}
	return -1, 0, 0
}

// mergeTable is an open-addressing hash map from a pair of symbol ids to the
// merge's rank and resulting id.
type mergeTable struct {
	keys []uint64 // a<<32 | b, or emptyKey
	vals []uint64 // rank<<32 | id
	mask uint64
}

const emptyKey = ^uint64(0)

func (m *mergeTable) init(n int) {
	size := 1
	for size < 2*n+16 {
		size <<= 1
	}
	m.keys = make([]uint64, size)
	m.vals = make([]uint64, size)
	for i := range m.keys {
		m.keys[i] = emptyKey
	}
	m.mask = uint64(size - 1)
}

func hashPair(k uint64) uint64 {
	k *= 0x9E3779B97F4A7C15
	return k ^ k>>29
}

// put adds the pair unless it is present; it reports whether it was added.
func (m *mergeTable) put(k, v uint64) bool {
	for i := hashPair(k) & m.mask; ; i = (i + 1) & m.mask {
		switch m.keys[i] {
		case emptyKey:
			m.keys[i], m.vals[i] = k, v
			return true
		case k:
			return false
		}
	}
}

// get returns rank<<32|id for the pair, or emptyKey.
func (m *mergeTable) get(a, b int32) uint64 {
	k := uint64(a)<<32 | uint64(uint32(b))
	for i := hashPair(k) & m.mask; ; i = (i + 1) & m.mask {
		switch m.keys[i] {
		case k:
			return m.vals[i]
		case emptyKey:
			return emptyKey
		}
	}
}

// byteToRune is GPT-2's bytes_to_unicode table and runeToByte its inverse.
var byteToRune, runeToByte = func() (b2r [256]rune, r2b map[rune]byte) {
	r2b = make(map[rune]byte, 256)
	n := rune(0)
	for b := 0; b < 256; b++ {
		if (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			b2r[b] = rune(b)
		} else {
			b2r[b] = 256 + n
			n++
		}
		r2b[b2r[b]] = byte(b)
	}
	return
}()

type hfAddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	Special    bool   `json:"special"`
	SingleWord bool   `json:"single_word"`
	Lstrip     bool   `json:"lstrip"`
	Rstrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
}

type hfTokenizer struct {
	AddedTokens []hfAddedToken `json:"added_tokens"`
	Normalizer  *struct {
		Type string `json:"type"`
	} `json:"normalizer"`
	PreTokenizer *struct {
		Type           string `json:"type"`
		AddPrefixSpace bool   `json:"add_prefix_space"`
		UseRegex       *bool  `json:"use_regex"`
	} `json:"pre_tokenizer"`
	Model struct {
		Type                    string            `json:"type"`
		Dropout                 *float64          `json:"dropout"`
		ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
		ByteFallback            bool              `json:"byte_fallback"`
		Vocab                   map[string]int    `json:"vocab"`
		Merges                  []json.RawMessage `json:"merges"`
	} `json:"model"`
}

// LoadNeoX reads a GPT-NeoX tokenizer JSON (20B_tokenizer.json).
func LoadNeoX(path string) (*NeoX, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := ParseNeoX(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ParseNeoX parses a Hugging Face tokenizer JSON holding a byte-level BPE
// model such as GPT-NeoX 20B's. Features the 20B tokenizer does not use
// (other normalizers or pre-tokenizers, dropout, subword affixes, stripping
// added tokens) are refused.
func ParseNeoX(data []byte) (*NeoX, error) {
	var j hfTokenizer
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("not a tokenizer JSON: %w", err)
	}
	m := &j.Model
	if m.Type != "BPE" && m.Type != "" {
		return nil, fmt.Errorf("model type %q is not supported (want BPE)", m.Type)
	}
	if len(m.Vocab) == 0 {
		return nil, errors.New("no model vocab")
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return nil, errors.New("BPE dropout is not supported")
	}
	if (m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "") ||
		(m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "") || m.ByteFallback {
		return nil, errors.New("BPE subword prefixes, suffixes and byte fallback are not supported")
	}
	t := &NeoX{}
	if n := j.Normalizer; n != nil {
		if n.Type != "NFC" {
			return nil, fmt.Errorf("normalizer %q is not supported (want NFC or none)", n.Type)
		}
		t.nfc = true
	}
	if p := j.PreTokenizer; p == nil || p.Type != "ByteLevel" || p.AddPrefixSpace || (p.UseRegex != nil && !*p.UseRegex) {
		return nil, errors.New("pre-tokenizer must be ByteLevel without prefix space")
	}

	size := 0
	for _, id := range m.Vocab {
		if id < 0 || id >= maxNeoXID {
			return nil, fmt.Errorf("vocab id %d out of range", id)
		}
		size = max(size, id+1)
	}
	for _, a := range j.AddedTokens {
		if a.ID < 0 || a.ID >= maxNeoXID {
			return nil, fmt.Errorf("added token id %d out of range", a.ID)
		}
		size = max(size, a.ID+1)
	}
	strs := make([]string, size)
	has := make([]bool, size)
	for s, id := range m.Vocab {
		if has[id] {
			return nil, fmt.Errorf("vocab id %d appears twice", id)
		}
		if s == "" {
			return nil, errors.New("empty vocab entry")
		}
		has[id] = true
		strs[id] = s
	}
	t.special = make([]bool, size)
	added := make(map[int]string, len(j.AddedTokens))
	for _, a := range j.AddedTokens {
		if a.Content == "" {
			return nil, fmt.Errorf("added token %d is empty", a.ID)
		}
		if a.SingleWord || a.Lstrip || a.Rstrip {
			return nil, fmt.Errorf("added token %d: single_word/lstrip/rstrip are not supported", a.ID)
		}
		if has[a.ID] && strs[a.ID] != a.Content {
			return nil, fmt.Errorf("added token %d %q differs from the vocab's %q", a.ID, a.Content, strs[a.ID])
		}
		if _, dup := added[a.ID]; dup {
			return nil, fmt.Errorf("added token id %d appears twice", a.ID)
		}
		added[a.ID] = a.Content
		t.special[a.ID] = a.Special
		tok := addedTok{content: []byte(a.Content), id: int32(a.ID)}
		set := &t.raw
		if a.Normalized {
			set = &t.norm
		}
		set.add(tok)
	}
	for _, set := range []*addedSet{&t.raw, &t.norm} {
		sort.SliceStable(set.toks, func(a, b int) bool { return len(set.toks[a].content) > len(set.toks[b].content) })
	}

	// Token bytes: vocab entries through the byte-level alphabet, added
	// tokens as their text.
	t.offs = make([]uint32, size+1)
	for id := 0; id < size; id++ {
		t.offs[id] = uint32(len(t.tokens))
		if content, ok := added[id]; ok {
			t.tokens = append(t.tokens, content...)
			continue
		}
		if has[id] {
			for _, r := range strs[id] {
				if b, ok := runeToByte[r]; ok {
					t.tokens = append(t.tokens, b)
				} else {
					t.tokens = utf8.AppendRune(t.tokens, r)
				}
			}
		}
	}
	t.offs[size] = uint32(len(t.tokens))

	var buf [4]byte
	for b := 0; b < 256; b++ {
		s := string(buf[:utf8.EncodeRune(buf[:], byteToRune[b])])
		t.byteSym[b] = -1
		if id, ok := m.Vocab[s]; ok {
			t.byteSym[b] = int32(id)
		}
	}

	t.merges.init(len(m.Merges))
	for rank, raw := range m.Merges {
		var a, b string
		var s string
		var pair []string
		if err := json.Unmarshal(raw, &s); err == nil {
			var ok bool
			a, b, ok = strings.Cut(s, " ")
			if !ok || strings.Contains(b, " ") {
				return nil, fmt.Errorf("merge %d %q is not two tokens", rank, s)
			}
		} else if err := json.Unmarshal(raw, &pair); err == nil && len(pair) == 2 {
			a, b = pair[0], pair[1]
		} else {
			return nil, fmt.Errorf("merge %d is neither \"a b\" nor [a, b]", rank)
		}
		ia, oka := m.Vocab[a]
		ib, okb := m.Vocab[b]
		ic, okc := m.Vocab[a+b]
		if !oka || !okb || !okc {
			return nil, fmt.Errorf("merge %d (%q %q): token not in the vocab", rank, a, b)
		}
		// The first occurrence of a pair wins, as in tokenizers.
		t.merges.put(uint64(ia)<<32|uint64(ib), uint64(rank)<<32|uint64(ic))
	}
	t.pool.New = func() any { return newNeoXScratch() }
	unicodeTables()
	return t, nil
}

// Name returns "neox".
func (t *NeoX) Name() string { return "neox" }

// VocabSize returns one past the largest id (50277 for the 20B tokenizer).
func (t *NeoX) VocabSize() int { return len(t.offs) - 1 }

// TokenBytes returns the bytes of id (the text of added tokens), nil if none.
func (t *NeoX) TokenBytes(id int) []byte {
	if id < 0 || id >= len(t.offs)-1 {
		return nil
	}
	b := t.tokens[t.offs[id]:t.offs[id+1]]
	if len(b) == 0 {
		return nil
	}
	return b[:len(b):len(b)]
}

// IsSpecial reports whether id is a special added token (<|endoftext|>,
// <|padding|>), which the reference's default decode skips.
func (t *NeoX) IsSpecial(id int) bool {
	return id >= 0 && id < len(t.special) && t.special[id]
}

// Decode concatenates the bytes of ids, skipping ids out of range. Special
// tokens give their text. The result need not be valid UTF-8.
func (t *NeoX) Decode(ids []int) []byte {
	n := 0
	for _, id := range ids {
		if id >= 0 && id < len(t.offs)-1 {
			n += int(t.offs[id+1] - t.offs[id])
		}
	}
	return t.AppendDecode(make([]byte, 0, n), ids)
}

// AppendDecode appends the bytes of ids to dst, as Decode.
func (t *NeoX) AppendDecode(dst []byte, ids []int) []byte {
	for _, id := range ids {
		if id >= 0 && id < len(t.offs)-1 {
			dst = append(dst, t.tokens[t.offs[id]:t.offs[id+1]]...)
		}
	}
	return dst
}

// neoxScratch is the per-goroutine state of an encoding: buffers and the
// cache of encoded pieces.
type neoxScratch struct {
	norm  []byte
	runes []rune
	syms  []int32
	ranks []uint64
	cache map[string]cacheEntry
	arena []int32
}

type cacheEntry struct{ off, n uint32 }

const (
	cacheMaxEntries = 1 << 15
	cacheMaxPiece   = 64 // longer pieces are not cached
)

func newNeoXScratch() *neoxScratch {
	return &neoxScratch{cache: make(map[string]cacheEntry, 1024)}
}

// Encode returns the token ids of b.
func (t *NeoX) Encode(b []byte) []int {
	return t.AppendEncode(make([]int, 0, len(b)/4+4), b)
}

// AppendEncode appends the token ids of b to dst.
func (t *NeoX) AppendEncode(dst []int, b []byte) []int {
	sc := t.pool.Get().(*neoxScratch)
	defer t.pool.Put(sc)
	for len(b) > 0 {
		i, j, id := t.raw.find(b)
		if i < 0 {
			dst = t.encodeNormalize(dst, b, sc)
			break
		}
		dst = t.encodeNormalize(dst, b[:i], sc)
		dst = append(dst, int(id))
		b = b[j:]
	}
	return dst
}

func (t *NeoX) encodeNormalize(dst []int, s []byte, sc *neoxScratch) []int {
	if len(s) == 0 {
		return dst
	}
	if t.nfc {
		if u := uni; !u.isNFC(s) {
			sc.norm = u.appendNFC(sc.norm[:0], s, &sc.runes)
			s = sc.norm
		}
	}
	for len(s) > 0 {
		i, j, id := t.norm.find(s)
		if i < 0 {
			return t.encodeSegment(dst, s, sc)
		}
		dst = t.encodeSegment(dst, s[:i], sc)
		dst = append(dst, int(id))
		s = s[j:]
	}
	return dst
}

// encodeSegment pre-tokenises s and BPE-encodes each piece.
func (t *NeoX) encodeSegment(dst []int, s []byte, sc *neoxScratch) []int {
	for i := 0; i < len(s); {
		j := nextPiece(s, i)
		dst = t.encodePiece(dst, s[i:j], sc)
		i = j
	}
	return dst
}

// classify returns the pre-tokeniser class of the character at s[i] and its
// length; an invalid UTF-8 byte is one clsOther character.
func classify(s []byte, i int) (int, int) {
	c := s[i]
	if c < 0x80 {
		return int(asciiClass[c]), 1
	}
	r, size := utf8.DecodeRune(s[i:])
	if r == utf8.RuneError && size == 1 {
		return clsOther, 1
	}
	return int(uni.prop(r) & propClassMask), size
}

var asciiClass = func() (t [128]uint8) {
	for c := 0; c < 128; c++ {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			t[c] = clsLetter
		case c >= '0' && c <= '9':
			t[c] = clsNumber
		case c == ' ', c >= '\t' && c <= '\r':
			t[c] = clsSpace
		}
	}
	return
}()

// nextPiece returns the end of the pre-tokeniser piece starting at s[i]: the
// GPT-2 pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// with its alternatives tried in order.
func nextPiece(s []byte, i int) int {
	n := len(s)
	c0 := s[i]
	if c0 == '\'' && i+1 < n {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < n && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < n && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	cls, size := classify(s, i)
	j := i + size
	if c0 == ' ' && j < n {
		if c2, size2 := classify(s, j); c2 != clsSpace {
			cls = c2
			j += size2
		}
	}
	if cls != clsSpace {
		if cls == clsLetter && size == 1 {
			// fast path for ASCII letters
			for j < n && s[j] < 0x80 && asciiClass[s[j]] == clsLetter {
				j++
			}
		}
		for j < n {
			c, sz := classify(s, j)
			if c != cls {
				break
			}
			j += sz
		}
		return j
	}
	// A whitespace run: at the end of the text all of it; before a
	// non-space all but its last character (\s+(?!\S)), unless that leaves
	// nothing (\s+).
	last := i
	for j < n {
		c, sz := classify(s, j)
		if c != clsSpace {
			if last > i {
				return last
			}
			return j
		}
		last = j
		j += sz
	}
	return j
}

// encodePiece appends the BPE ids of one piece.
func (t *NeoX) encodePiece(dst []int, p []byte, sc *neoxScratch) []int {
	if len(p) == 1 {
		if id := t.byteSym[p[0]]; id >= 0 {
			dst = append(dst, int(id))
		}
		return dst
	}
	cacheable := len(p) <= cacheMaxPiece
	if cacheable {
		if e, ok := sc.cache[string(p)]; ok {
			for _, id := range sc.arena[e.off : e.off+e.n] {
				dst = append(dst, int(id))
			}
			return dst
		}
	}
	syms := t.bpe(p, sc)
	if cacheable {
		if len(sc.cache) >= cacheMaxEntries {
			clear(sc.cache)
			sc.arena = sc.arena[:0]
		}
		sc.cache[string(p)] = cacheEntry{uint32(len(sc.arena)), uint32(len(syms))}
		sc.arena = append(sc.arena, syms...)
	}
	for _, id := range syms {
		dst = append(dst, int(id))
	}
	return dst
}

// bpe merges the byte symbols of p by rank: repeatedly the adjacent pair with
// the lowest rank, the leftmost of equals.
func (t *NeoX) bpe(p []byte, sc *neoxScratch) []int32 {
	syms := sc.syms[:0]
	for _, c := range p {
		if id := t.byteSym[c]; id >= 0 {
			syms = append(syms, id)
		}
	}
	ranks := sc.ranks[:0]
	for k := 0; k+1 < len(syms); k++ {
		ranks = append(ranks, t.merges.get(syms[k], syms[k+1]))
	}
	for len(syms) > 1 {
		best := 0
		for k := 1; k < len(ranks); k++ {
			if ranks[k] < ranks[best] {
				best = k
			}
		}
		v := ranks[best]
		if v == emptyKey {
			break
		}
		syms[best] = int32(uint32(v))
		syms = append(syms[:best+1], syms[best+2:]...)
		ranks = append(ranks[:best], ranks[best+1:]...)
		if best > 0 {
			ranks[best-1] = t.merges.get(syms[best-1], syms[best])
		}
		if best < len(ranks) {
			ranks[best] = t.merges.get(syms[best], syms[best+1])
		}
	}
	sc.syms, sc.ranks = syms, ranks
	return syms
}
