package tokenizer

import (
	"sort"
	"sync"
	"unicode/utf8"
)

// This file holds the Unicode knowledge of the NeoX tokenizer. The reference
// (Hugging Face tokenizers) mixes two Unicode versions, and so does this code,
// with its own tables (unicode_tables.go) rather than Go's (Unicode 15.0):
//   - the pre-tokeniser's \p{L} and \p{N} follow Unicode 16.0 (Oniguruma);
//   - NFC follows Unicode 9.0 (the unicode-normalization-alignments crate):
//     characters assigned after 9.0 have combining class 0, no decomposition
//     and take part in no composition.
// \s is the White_Space property, which has not changed since Unicode 6.

// Character classes of the GPT-2 pre-tokeniser.
const (
	clsOther  = 0
	clsLetter = 1
	clsNumber = 2
	clsSpace  = 3
)

// Per-code-point property bits.
const (
	propClassMask = 3      // clsOther … clsSpace
	propDecomp    = 1 << 2 // has a canonical decomposition (NFD differs)
	propNo        = 1 << 3 // NFC_QC = No (Full_Composition_Exclusion)
	propMaybe     = 1 << 4 // NFC_QC = Maybe (may compose with what precedes)
)

// Hangul syllable constants (Unicode §3.12).
const (
	hSBase  = 0xAC00
	hLBase  = 0x1100
	hVBase  = 0x1161
	hTBase  = 0x11A7
	hLCount = 19
	hVCount = 21
	hTCount = 28
	hNCount = hVCount * hTCount
	hSCount = hLCount * hNCount
)

var whiteSpace = [...][2]int32{
	{0x0009, 0x000D}, {0x0020, 0x0020}, {0x0085, 0x0085}, {0x00A0, 0x00A0},
	{0x1680, 0x1680}, {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F},
	{0x205F, 0x205F}, {0x3000, 0x3000},
}

// unicodeData holds lookup tables built once from the generated ranges.
type unicodeData struct {
	bmpProp [0x10000]uint8
	bmpCCC  [0x10000]uint8
	// supplementary planes: the normalisation bits (the class comes from a
	// binary search of the ranges) and ccc != 0
	supProp map[rune]uint8
	supCCC  map[rune]uint8
	// decompositions: code point → decomp9 offset of its length field
	decomp map[rune]int32
}

var (
	uniOnce sync.Once
	uni     *unicodeData
)

func unicodeTables() *unicodeData {
	uniOnce.Do(func() {
		u := &unicodeData{
			supProp: map[rune]uint8{},
			supCCC:  map[rune]uint8{},
			decomp:  make(map[rune]int32, 2100),
		}
		setProp := func(r rune, bits uint8, clear uint8) {
			if r < 0x10000 {
				u.bmpProp[r] = u.bmpProp[r]&^clear | bits
			} else {
				u.supProp[r] = u.supProp[r]&^clear | bits
			}
		}
		// Class (BMP only): ranges are disjoint across L, N and White_Space.
		for cls, rgs := range [][][2]int32{clsLetter: letterRanges16[:], clsNumber: numberRanges16[:], clsSpace: whiteSpace[:]} {
			for _, rg := range rgs {
				for r := rg[0]; r <= rg[1] && r < 0x10000; r++ {
					setProp(r, uint8(cls), propClassMask)
				}
			}
		}
		for _, c := range cccRanges9 {
			for r := c[0]; r <= c[1]; r++ {
				if r < 0x10000 {
					u.bmpCCC[r] = uint8(c[2])
				} else {
					u.supCCC[r] = uint8(c[2])
				}
			}
		}
		for i := 0; i < len(decomp9); {
			r, n := decomp9[i], int(decomp9[i+1])
			u.decomp[r] = int32(i + 1)
			setProp(r, propDecomp, 0)
			i += 2 + n
		}
		for r := rune(hSBase); r < hSBase+hSCount; r++ {
			setProp(r, propDecomp, 0)
		}
		for _, rg := range compExcl9 {
			for r := rg[0]; r <= rg[1]; r++ {
				setProp(r, propNo, 0)
			}
		}
		for _, c := range compose9 {
			setProp(c[1], propMaybe, 0)
		}
		for r := rune(hVBase); r < hVBase+hVCount; r++ {
			setProp(r, propMaybe, 0)
		}
		for r := rune(hTBase + 1); r < hTBase+hTCount; r++ {
			setProp(r, propMaybe, 0)
		}
		uni = u
	})
	return uni
}

func (u *unicodeData) prop(r rune) uint8 {
	if r < 0x10000 {
		return u.bmpProp[r]
	}
	p := u.supProp[r]
	switch {
	case inRanges(letterRanges16[:], r):
		p |= clsLetter
	case inRanges(numberRanges16[:], r):
		p |= clsNumber
	}
	return p
}

// inRanges reports whether r is in one of the sorted inclusive ranges.
func inRanges(rgs [][2]int32, r rune) bool {
	i := sort.Search(len(rgs), func(i int) bool { return rgs[i][1] >= r })
	return i < len(rgs) && rgs[i][0] <= r
}

func (u *unicodeData) ccc(r rune) uint8 {
	if r < 0x10000 {
		return u.bmpCCC[r]
	}
	if len(u.supCCC) == 0 {
		return 0
	}
	return u.supCCC[r]
}

// compose returns the primary composite of a and b, or −1.
func compose(a, b rune) rune {
	if a >= hLBase && a < hLBase+hLCount && b >= hVBase && b < hVBase+hVCount {
		return hSBase + ((a-hLBase)*hVCount+(b-hVBase))*hTCount
	}
	if a >= hSBase && a < hSBase+hSCount && (a-hSBase)%hTCount == 0 && b > hTBase && b < hTBase+hTCount {
		return a + (b - hTBase)
	}
	i := sort.Search(len(compose9), func(i int) bool {
		c := &compose9[i]
		return c[0] > a || (c[0] == a && c[1] >= b)
	})
	if i < len(compose9) && compose9[i][0] == a && compose9[i][1] == b {
		return compose9[i][2]
	}
	return -1
}

// isNFC reports whether s is certainly in NFC (the quick check answers Yes).
// Bytes that are not valid UTF-8 count as starters.
func (u *unicodeData) isNFC(s []byte) bool {
	var last uint8
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0xCC { // below U+0300: ccc 0 and NFC_QC = Yes
			last = 0
			if c < 0x80 {
				i++
			} else {
				i += max(1, utf8RuneLen(s[i:]))
			}
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		i += size
		if r == utf8.RuneError && size == 1 {
			last = 0
			continue
		}
		cc := u.ccc(r)
		if cc != 0 && last > cc {
			return false
		}
		if u.prop(r)&(propNo|propMaybe) != 0 {
			return false
		}
		last = cc
	}
	return true
}

func utf8RuneLen(s []byte) int {
	_, n := utf8.DecodeRune(s)
	return n
}

// appendNFC appends the NFC form of s (Unicode 9.0) to dst. Bytes that are
// not valid UTF-8 are copied unchanged and block composition across them.
// buf is scratch space.
func (u *unicodeData) appendNFC(dst, s []byte, buf *[]rune) []byte {
	for len(s) > 0 {
		// the longest valid UTF-8 prefix
		end := 0
		for end < len(s) {
			if s[end] < 0x80 {
				end++
				continue
			}
			r, size := utf8.DecodeRune(s[end:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			end += size
		}
		if end > 0 {
			dst = u.appendNFCValid(dst, s[:end], buf)
			s = s[end:]
			continue
		}
		dst = append(dst, s[0])
		s = s[1:]
	}
	return dst
}

func (u *unicodeData) appendNFCValid(dst, s []byte, buf *[]rune) []byte {
	rs := (*buf)[:0]
	// Decompose.
	for _, r := range string(s) {
		if u.prop(r)&propDecomp == 0 {
			rs = append(rs, r)
			continue
		}
		if r >= hSBase && r < hSBase+hSCount {
			si := r - hSBase
			rs = append(rs, hLBase+si/hNCount, hVBase+(si%hNCount)/hTCount)
			if t := si % hTCount; t != 0 {
				rs = append(rs, hTBase+t)
			}
			continue
		}
		k := u.decomp[r]
		n := decomp9[k]
		rs = append(rs, decomp9[k+1:k+1+n]...)
	}
	// Canonical ordering: stable insertion sort of each run of non-starters.
	for i := 1; i < len(rs); i++ {
		c := u.ccc(rs[i])
		if c == 0 {
			continue
		}
		j := i
		for j > 0 {
			p := u.ccc(rs[j-1])
			if p == 0 || p <= c {
				break
			}
			rs[j], rs[j-1] = rs[j-1], rs[j]
			j--
		}
	}
	// Canonical composition.
	if len(rs) > 0 {
		starter := 0
		last := int(u.ccc(rs[0]))
		if last != 0 {
			last = 256
		}
		out := 1
		for i := 1; i < len(rs); i++ {
			r := rs[i]
			c := int(u.ccc(r))
			if last < c || last == 0 {
				if comp := compose(rs[starter], r); comp >= 0 {
					rs[starter] = comp
					continue
				}
			}
			if c == 0 {
				starter = out
			}
			last = c
			rs[out] = r
			out++
		}
		rs = rs[:out]
	}
	for _, r := range rs {
		dst = utf8.AppendRune(dst, r)
	}
	*buf = rs
	return dst
}
