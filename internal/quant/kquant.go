package quant

import (
	"encoding/binary"
	"math"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// The k-quant encoders. They produce blocks in ggml's exact layout (see
// internal/tensor/kquant.go), so ggml's dequantizer reads them, but they
// choose the scales with a simple, deterministic scheme instead of ggml's
// iterative error search (quantize_row_q*_K_ref):
//
//   - Q4_K / Q5_K: each 32-element sub-block gets the affine fit of its
//     range with the minimum clamped to ≤ 0 (as ggml does), refined by a
//     few least-squares steps on (scale, min) for the levels chosen; the
//     eight scales and mins are then stored as 6-bit multiples of the
//     super-block's d and dmin, and the levels are recomputed with the
//     stored (rounded) values.
//   - Q6_K: each 16-element sub-block gets the symmetric scale that maps
//     its value of largest magnitude to −32 (the Q4_0 rule), the sixteen
//     scales are stored as int8 multiples of d = max|scale|/128, and the
//     levels are recomputed with the stored values.

func init() {
	blockFuncs[tensor.Q4_K] = q4K
	blockFuncs[tensor.Q5_K] = q5K
	blockFuncs[tensor.Q6_K] = q6K
}

func nearestInt(f float32) int { return int(math.RoundToEven(float64(f))) }

// fitAffine returns scale ≥ 0 and min ≥ 0 with x ≈ scale·q − min, q in
// [0, nmax], for one sub-block, and writes the levels into L.
func fitAffine(x []float32, nmax int, L []uint8) (scale, mn float32) {
	lo, hi := minMax(x)
	if lo > 0 {
		lo = 0 // ggml keeps the offset non-positive
	}
	if hi <= lo {
		for i := range L {
			L[i] = 0
		}
		return 0, -lo
	}
	scale = (hi - lo) / float32(nmax)
	mn = -lo
	assign := func(scale, mn float32) float64 {
		iscale := 1 / scale
		var err float64
		for i, v := range x {
			l := min(nmax, max(0, nearestInt((v+mn)*iscale)))
			L[i] = uint8(l)
			d := float64(scale*float32(l) - mn - v)
			err += d * d
		}
		return err
	}
	best := assign(scale, mn)
	bestS, bestM := scale, mn
	// Least-squares refinement: for fixed levels, minimise
	// Σ (s·l − m − x)² over s and m (keeping m ≥ 0), then re-assign.
	for it := 0; it < 4; it++ {
		var sl, sl2, sx, slx float64
		n := float64(len(x))
		for i, v := range x {
			l := float64(L[i])
			sl += l
			sl2 += l * l
			sx += float64(v)
			slx += l * float64(v)
		}
		det := n*sl2 - sl*sl
		if det <= 0 {
			break
		}
		s := (n*slx - sl*sx) / det
		b := (sl2*sx - sl*slx) / det // x ≈ s·l + b, so m = −b
		if b > 0 {
			b = 0
			if sl2 > 0 {
				s = slx / sl2
			}
		}
		if s <= 0 {
			break
		}
		ns, nm := float32(s), float32(-b)
		err := assign(ns, nm)
		if err >= best {
			break
		}
		best, bestS, bestM = err, ns, nm
	}
	assign(bestS, bestM)
	return bestS, bestM
}

// packScalesK4 stores eight 6-bit scales and mins as ggml's 12 bytes (the
// inverse of tensor.ScaleMinK4).
func packScalesK4(ls, lm *[8]uint8, out []byte) {
	for i := range out[:12] {
		out[i] = 0
	}
	for j := 0; j < 8; j++ {
		if j < 4 {
			out[j] = ls[j]
			out[j+4] = lm[j]
		} else {
			out[j+4] = ls[j]&0xF | (lm[j]&0xF)<<4
			out[j-4] |= (ls[j] >> 4) << 6
			out[j] |= (lm[j] >> 4) << 6
		}
	}
}

// affineK quantizes one super-block for Q4_K (nmax 15) or Q5_K (nmax 31):
// it fills the header (d, dmin, scales) and the 256 levels.
func affineK(x []float32, nmax int, hdr []byte, L *[256]uint8) {
	var scales, mins [8]float32
	var maxScale, maxMin float32
	for j := 0; j < 8; j++ {
		scales[j], mins[j] = fitAffine(x[32*j:32*j+32], nmax, L[32*j:32*j+32])
		maxScale = max(maxScale, scales[j])
		maxMin = max(maxMin, mins[j])
	}
	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	var ls, lm [8]uint8
	for j := 0; j < 8; j++ {
		ls[j] = uint8(min(63, nearestInt(invScale*scales[j])))
		lm[j] = uint8(min(63, nearestInt(invMin*mins[j])))
	}
	putF16(hdr, maxScale/63)
	putF16(hdr[2:], maxMin/63)
	packScalesK4(&ls, &lm, hdr[4:16])
	// Recompute the levels with the scales as stored.
	d := tensor.F16ToF32(binary.LittleEndian.Uint16(hdr))
	dmin := tensor.F16ToF32(binary.LittleEndian.Uint16(hdr[2:]))
	for j := 0; j < 8; j++ {
		sc, m := tensor.ScaleMinK4(j, hdr[4:16])
		ds := d * float32(sc)
		if ds == 0 {
			// ggml leaves such levels as they were; zero is as good.
			for i := 32 * j; i < 32*j+32; i++ {
				L[i] = 0
			}
			continue
		}
		dm := dmin * float32(m)
		for i := 32 * j; i < 32*j+32; i++ {
			L[i] = uint8(min(nmax, max(0, nearestInt((x[i]+dm)/ds))))
		}
	}
}

// q4K encodes one block_q4_K.
func q4K(x []float32, out []byte) {
	var L [256]uint8
	affineK(x, 15, out[:16], &L)
	q := out[16:144]
	for j := 0; j < 4; j++ {
		for l := 0; l < 32; l++ {
			q[32*j+l] = L[64*j+l] | L[64*j+l+32]<<4
		}
	}
}

// q5K encodes one block_q5_K.
func q5K(x []float32, out []byte) {
	var L [256]uint8
	affineK(x, 31, out[:16], &L)
	qh := out[16:48]
	ql := out[48:176]
	for i := range qh {
		qh[i] = 0
	}
	for j := 0; j < 4; j++ {
		u1, u2 := byte(1)<<(2*j), byte(2)<<(2*j)
		for l := 0; l < 32; l++ {
			a, b := L[64*j+l], L[64*j+l+32]
			if a > 15 {
				a -= 16
				qh[l] |= u1
			}
			if b > 15 {
				b -= 16
				qh[l] |= u2
			}
			ql[32*j+l] = a | b<<4
		}
	}
}

// q6K encodes one block_q6_K.
func q6K(x []float32, out []byte) {
	var scales [16]float32
	var maxScale, maxAbs float32
	for j := 0; j < 16; j++ {
		s := signedMax(x[16*j:16*j+16]) / -32
		scales[j] = s
		if a := float32(math.Abs(float64(s))); a > maxAbs {
			maxAbs, maxScale = a, s
		}
	}
	ql := out[0:128]
	qh := out[128:192]
	sc := out[192:208]
	if maxAbs == 0 {
		for i := range out[:210] {
			out[i] = 0
		}
		return
	}
	iscale := -128 / maxScale
	putF16(out[208:], 1/iscale)
	d := tensor.F16ToF32(binary.LittleEndian.Uint16(out[208:]))
	var L [256]uint8
	for j := 0; j < 16; j++ {
		s := max(-128, min(127, nearestInt(iscale*scales[j])))
		sc[j] = byte(int8(s))
		ds := d * float32(s)
		for i := 16 * j; i < 16*j+16; i++ {
			l := 0
			if ds != 0 {
				l = max(-32, min(31, nearestInt(x[i]/ds)))
			}
			L[i] = uint8(l + 32)
		}
	}
	for n := 0; n < 2; n++ {
		lq := ql[64*n : 64*n+64]
		hq := qh[32*n : 32*n+32]
		Ln := L[128*n : 128*n+128]
		for l := 0; l < 32; l++ {
			q1, q2, q3, q4 := Ln[l], Ln[l+32], Ln[l+64], Ln[l+96]
			lq[l] = q1&0xF | (q3&0xF)<<4
			lq[l+32] = q2&0xF | (q4&0xF)<<4
			hq[l] = q1>>4 | (q2>>4)<<2 | (q3>>4)<<4 | (q4>>4)<<6
		}
	}
}
