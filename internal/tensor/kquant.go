package tensor

import "encoding/binary"

// The k-quants of ggml (ggml-common.h, ggml-quants.c): 256-element
// super-blocks split into sub-blocks with their own 6-bit (Q4_K, Q5_K) or
// 8-bit (Q6_K) scales.
//
//	block_q4_K (144 bytes): half d; half dmin; u8 scales[12]; u8 qs[128]
//	block_q5_K (176 bytes): half d; half dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]
//	block_q6_K (210 bytes): u8 ql[128]; u8 qh[64]; i8 scales[16]; half d
//
// Q4_K/Q5_K: eight sub-blocks of 32; element e of sub-block j is
// d·sc_j·q − dmin·m_j with (sc_j, m_j) the 6-bit pair get_scale_min_k4(j).
// Q6_K: sixteen sub-blocks of 16; element e is d·scales[e/16]·(q − 32).

// QK_K is the number of elements of a k-quant super-block.
const QK_K = 256

func init() { DequantizeK = dequantizeK }

// dequantizeK expands one Q4_K, Q5_K or Q6_K super-block into y[:256].
func dequantizeK(dt DType, blk []byte, y []float32) {
	switch dt {
	case Q4_K:
		DequantizeQ4K(blk, y)
	case Q5_K:
		DequantizeQ5K(blk, y)
	case Q6_K:
		DequantizeQ6K(blk, y)
	default:
		panic("tensor: DequantizeK called for " + dt.String())
	}
}

// ScaleMinK4 unpacks the 6-bit scale and min of sub-block j (0…7) from the
// 12 packed bytes of a Q4_K/Q5_K block (ggml's get_scale_min_k4).
func ScaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	sc = q[j+4]&0xF | (q[j-4]>>6)<<4
	m = q[j+4]>>4 | (q[j]>>6)<<4
	return sc, m
}

// DequantizeQ4K expands one block_q4_K (ggml's dequantize_row_q4_K).
func DequantizeQ4K(blk []byte, y []float32) {
	blk = blk[:144]
	y = y[:QK_K]
	d := F16ToF32(binary.LittleEndian.Uint16(blk))
	dmin := F16ToF32(binary.LittleEndian.Uint16(blk[2:]))
	scales := blk[4:16]
	q := blk[16:144]
	for j := 0; j < 4; j++ { // 64 elements: two sub-blocks sharing 32 bytes
		sc, m := ScaleMinK4(2*j, scales)
		d1, m1 := d*float32(sc), dmin*float32(m)
		sc, m = ScaleMinK4(2*j+1, scales)
		d2, m2 := d*float32(sc), dmin*float32(m)
		qs := q[32*j : 32*j+32]
		out := y[64*j : 64*j+64]
		for l := 0; l < 32; l++ {
			out[l] = d1*float32(qs[l]&0xF) - m1
			out[l+32] = d2*float32(qs[l]>>4) - m2
		}
	}
}

// DequantizeQ5K expands one block_q5_K (ggml's dequantize_row_q5_K).
func DequantizeQ5K(blk []byte, y []float32) {
	blk = blk[:176]
	y = y[:QK_K]
	d := F16ToF32(binary.LittleEndian.Uint16(blk))
	dmin := F16ToF32(binary.LittleEndian.Uint16(blk[2:]))
	scales := blk[4:16]
	qh := blk[16:48]
	ql := blk[48:176]
	for j := 0; j < 4; j++ {
		sc, m := ScaleMinK4(2*j, scales)
		d1, m1 := d*float32(sc), dmin*float32(m)
		sc, m = ScaleMinK4(2*j+1, scales)
		d2, m2 := d*float32(sc), dmin*float32(m)
		u1, u2 := byte(1)<<(2*j), byte(2)<<(2*j)
		qs := ql[32*j : 32*j+32]
		out := y[64*j : 64*j+64]
		for l := 0; l < 32; l++ {
			lo, hi := qs[l]&0xF, qs[l]>>4
			if qh[l]&u1 != 0 {
				lo += 16
			}
			if qh[l]&u2 != 0 {
				hi += 16
			}
			out[l] = d1*float32(lo) - m1
			out[l+32] = d2*float32(hi) - m2
		}
	}
}

// DequantizeQ6K expands one block_q6_K (ggml's dequantize_row_q6_K).
func DequantizeQ6K(blk []byte, y []float32) {
	blk = blk[:210]
	y = y[:QK_K]
	ql := blk[0:128]
	qh := blk[128:192]
	sc := blk[192:208]
	d := F16ToF32(binary.LittleEndian.Uint16(blk[208:]))
	for n := 0; n < 2; n++ { // two halves of 128 elements
		l8 := ql[64*n : 64*n+64]
		h8 := qh[32*n : 32*n+32]
		s8 := sc[8*n : 8*n+8]
		out := y[128*n : 128*n+128]
		for l := 0; l < 32; l++ {
			is := l / 16
			q1 := int(l8[l]&0xF|(h8[l]>>0&3)<<4) - 32
			q2 := int(l8[l+32]&0xF|(h8[l]>>2&3)<<4) - 32
			q3 := int(l8[l]>>4|(h8[l]>>4&3)<<4) - 32
			q4 := int(l8[l+32]>>4|(h8[l]>>6&3)<<4) - 32
			out[l] = d * float32(int8(s8[is])) * float32(q1)
			out[l+32] = d * float32(int8(s8[is+2])) * float32(q2)
			out[l+64] = d * float32(int8(s8[is+4])) * float32(q3)
			out[l+96] = d * float32(int8(s8[is+6])) * float32(q4)
		}
	}
}
