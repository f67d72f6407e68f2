// Package tensor holds the element types the engine understands, their block
// layouts, scalar conversions, and a typed view over raw (often mmap'd) bytes.
package tensor

import (
	"fmt"
	"math"
)

// DType is the storage type of a tensor's elements.
type DType uint8

// The element types. Block layouts follow ggml (spec §6.2); k-quants use
// 256-element super-blocks.
const (
	F32 DType = iota
	F16
	BF16
	Q4_0
	Q4_1
	Q5_0
	Q5_1
	Q8_0
	Q4_K
	Q5_K
	Q6_K
	numDTypes
)

type dtypeInfo struct {
	name       string
	blockElems int
	blockBytes int
}

var dtypeInfos = [numDTypes]dtypeInfo{
	F32:  {"F32", 1, 4},
	F16:  {"F16", 1, 2},
	BF16: {"BF16", 1, 2},
	Q4_0: {"Q4_0", 32, 18},
	Q4_1: {"Q4_1", 32, 20},
	Q5_0: {"Q5_0", 32, 22},
	Q5_1: {"Q5_1", 32, 24},
	Q8_0: {"Q8_0", 32, 34},
	Q4_K: {"Q4_K", 256, 144},
	Q5_K: {"Q5_K", 256, 176},
	Q6_K: {"Q6_K", 256, 210},
}

// Valid reports whether d is a known type.
func (d DType) Valid() bool { return d < numDTypes }

func (d DType) String() string {
	if !d.Valid() {
		return fmt.Sprintf("dtype(%d)", uint8(d))
	}
	return dtypeInfos[d].name
}

// ParseDType maps a name such as "q8_0" or "F16" to its DType.
func ParseDType(s string) (DType, error) {
	for i, in := range dtypeInfos {
		if equalFold(in.name, s) {
			return DType(i), nil
		}
	}
	return 0, fmt.Errorf("unknown type %q", s)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// BlockElems is the number of elements one block holds (1 for float types).
func (d DType) BlockElems() int { return dtypeInfos[d].blockElems }

// BlockBytes is the size in bytes of one block.
func (d DType) BlockBytes() int { return dtypeInfos[d].blockBytes }

// Quantized reports whether d is a block-quantized type.
func (d DType) Quantized() bool { return d.Valid() && dtypeInfos[d].blockElems > 1 }

// Bytes is the storage size of n elements, or an error when n is not a whole
// number of blocks or the size overflows.
func (d DType) Bytes(n int64) (int64, error) {
	if !d.Valid() {
		return 0, fmt.Errorf("unknown dtype %d", uint8(d))
	}
	be := int64(dtypeInfos[d].blockElems)
	if n < 0 || n%be != 0 {
		return 0, fmt.Errorf("%d elements is not a whole number of %s blocks (%d)", n, d, be)
	}
	blocks := n / be
	bb := int64(dtypeInfos[d].blockBytes)
	if blocks > math.MaxInt64/bb {
		return 0, fmt.Errorf("%d elements of %s overflow", n, d)
	}
	return blocks * bb, nil
}

// F16ToF32 widens an IEEE-754 half (subnormals, inf and NaN included).
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf / NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	default: // subnormal: renormalise
		e := uint32(113)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		mant &= 0x3ff
		return math.Float32frombits(sign | e<<23 | mant<<13)
	}
}

// F32ToF16 rounds to the nearest half, ties to even (as numpy/torch do).
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		r := mant >> shift
		rem := mant & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, which is the right result
	}
	return sign | uint16(r)
}

// BF16ToF32 widens a bfloat16.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 rounds to the nearest bfloat16, ties to even.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
