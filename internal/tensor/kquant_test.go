package tensor

import (
	"encoding/binary"
	"testing"
)

// The k-quant layouts are pinned here with hand-built blocks whose
// expected values are written out or computed by an element-wise reading
// of ggml's block definitions (independent of the loops in kquant.go).

func putHalf(b []byte, f float32) { binary.LittleEndian.PutUint16(b, F32ToF16(f)) }

func TestQ4KAllScalesOne(t *testing.T) {
	blk := make([]byte, 144)
	putHalf(blk, 1)     // d
	putHalf(blk[2:], 1) // dmin
	sc := blk[4:16]
	for j := 0; j < 4; j++ {
		sc[j], sc[j+4] = 1, 1 // scale 1, min 1 for sub-blocks 0–3
	}
	for j := 8; j < 12; j++ {
		sc[j] = 0x11 // sub-blocks 4–7: low nibble scale 1, high nibble min 1
	}
	for i := 16; i < 144; i++ {
		blk[i] = 0x21 // low nibble 1, high nibble 2
	}
	y := make([]float32, 256)
	if err := Dequantize(Q4_K, blk, y); err != nil {
		t.Fatal(err)
	}
	// Each 64-element chunk: 32 low nibbles (1·1 − 1 = 0), then 32 high
	// nibbles (2·1 − 1 = 1).
	for e, v := range y {
		want := float32(0)
		if e%64 >= 32 {
			want = 1
		}
		if v != want {
			t.Fatalf("y[%d] = %g, want %g", e, v, want)
		}
	}
}

func TestQ4KSixBitScales(t *testing.T) {
	// Sub-block 5 (elements 160–191: high nibbles of the third 32 bytes)
	// gets scale 33 = 0b10_0001 and min 40 = 0b10_1000: low four bits in
	// scales[9], top two bits in bits 6–7 of scales[1] (scale) and
	// scales[5] (min).
	blk := make([]byte, 144)
	putHalf(blk, 0.5)
	putHalf(blk[2:], 0.25)
	sc := blk[4:16]
	sc[9] = 0x1 | 0x8<<4
	sc[1] = 0b10 << 6
	sc[5] = 0b10 << 6
	for i := 0; i < 32; i++ {
		blk[16+64+i] = byte(i%16) << 4 // chunk 2, high nibbles = i%16
	}
	y := make([]float32, 256)
	DequantizeQ4K(blk, y)
	for i := 0; i < 32; i++ {
		want := 0.5*33*float32(i%16) - 0.25*40
		if y[160+i] != want {
			t.Fatalf("y[%d] = %g, want %g", 160+i, y[160+i], want)
		}
	}
	// Sub-block 1 has scale bits 6–7 set in scales[1]: its 6-bit scale is
	// scales[1]&63 = 0, and min scales[5]&63 = 0.
	for i := 32; i < 64; i++ {
		if y[i] != 0 {
			t.Fatalf("y[%d] = %g, want 0", i, y[i])
		}
	}
	if s, m := ScaleMinK4(5, sc); s != 33 || m != 40 {
		t.Fatalf("ScaleMinK4(5) = %d, %d, want 33, 40", s, m)
	}
}

// refQ5K reads element e of a block_q5_K straight from the definition.
func refQ5K(blk []byte, e int) float32 {
	d := F16ToF32(binary.LittleEndian.Uint16(blk))
	dmin := F16ToF32(binary.LittleEndian.Uint16(blk[2:]))
	sub := e / 32
	chunk, l := e/64, e%32
	b := blk[48+32*chunk+l]
	q := int(b & 0xF)
	if sub%2 == 1 {
		q = int(b >> 4)
	}
	if blk[16+l]>>sub&1 == 1 { // qh bit `sub` of byte l is bit 4 of the level
		q += 16
	}
	var sc, m int
	s := blk[4:16]
	if sub < 4 {
		sc, m = int(s[sub]&63), int(s[sub+4]&63)
	} else {
		sc = int(s[sub+4]&0xF) | int(s[sub-4]>>6)<<4
		m = int(s[sub+4]>>4) | int(s[sub]>>6)<<4
	}
	return d*float32(sc)*float32(q) - dmin*float32(m)
}

func TestQ5KLayout(t *testing.T) {
	blk := make([]byte, 176)
	putHalf(blk, 0.125)
	putHalf(blk[2:], 0.5)
	// scales: pseudo-random bytes exercise every packing path
	x := uint32(12345)
	for i := 4; i < 176; i++ {
		x = x*1664525 + 1013904223
		blk[i] = byte(x >> 24)
	}
	y := make([]float32, 256)
	DequantizeQ5K(blk, y)
	for e := range y {
		if want := refQ5K(blk, e); y[e] != want {
			t.Fatalf("y[%d] = %g, want %g", e, y[e], want)
		}
	}
	// Hand check: all qh bits set, ql = 0xF0, scales 1 and mins 0 → the
	// low nibbles give 16 and the high ones 31.
	for i := range blk {
		blk[i] = 0
	}
	putHalf(blk, 1)
	for j := 0; j < 4; j++ {
		blk[4+j] = 1
	}
	for j := 8; j < 12; j++ {
		blk[4+j] = 0x01
	}
	for i := 16; i < 48; i++ {
		blk[i] = 0xFF
	}
	for i := 48; i < 176; i++ {
		blk[i] = 0xF0
	}
	DequantizeQ5K(blk, y)
	for e, v := range y {
		want := float32(16)
		if e%64 >= 32 {
			want = 31
		}
		if v != want {
			t.Fatalf("y[%d] = %g, want %g", e, v, want)
		}
	}
}

// refQ6K reads element e of a block_q6_K straight from the definition.
func refQ6K(blk []byte, e int) float32 {
	n, r := e/128, e%128
	g, l := r/32, r%32
	lb := blk[64*n+l+32*(g&1)]
	q := int(lb & 0xF)
	if g >= 2 {
		q = int(lb >> 4)
	}
	q |= int(blk[128+32*n+l]>>(2*g)&3) << 4
	sc := int8(blk[192+8*n+l/16+2*g])
	d := F16ToF32(binary.LittleEndian.Uint16(blk[208:]))
	return d * float32(sc) * float32(q-32)
}

func TestQ6KLayout(t *testing.T) {
	blk := make([]byte, 210)
	x := uint32(99)
	for i := 0; i < 192; i++ {
		x = x*1664525 + 1013904223
		blk[i] = byte(x >> 24)
	}
	for i := 0; i < 16; i++ {
		blk[192+i] = byte(int8(i*9 - 70))
	}
	putHalf(blk[208:], 0.03125)
	y := make([]float32, 256)
	if err := Dequantize(Q6_K, blk, y); err != nil {
		t.Fatal(err)
	}
	for e := range y {
		if want := refQ6K(blk, e); y[e] != want {
			t.Fatalf("y[%d] = %g, want %g", e, y[e], want)
		}
	}
	// Hand check: d = 1, scales[i] = i − 8, ql = 0, qh = 0 → every level
	// is −32, so y[e] = −32·(e/16 − 8).
	for i := range blk {
		blk[i] = 0
	}
	putHalf(blk[208:], 1)
	for i := 0; i < 16; i++ {
		blk[192+i] = byte(int8(i - 8))
	}
	DequantizeQ6K(blk, y)
	for e, v := range y {
		if want := float32(-32 * (e/16 - 8)); v != want {
			t.Fatalf("y[%d] = %g, want %g", e, v, want)
		}
	}
	// Level 63 (ql nibble 0xF, qh bits 11) at element 96: third group of
	// the first half, high nibble of ql[32], bits 6–7 of qh[0].
	blk[32] = 0xF0
	blk[128] = 0b11 << 6
	DequantizeQ6K(blk, y)
	if want := float32(31 * (96/16 - 8)); y[96] != want {
		t.Fatalf("y[96] = %g, want %g", y[96], want)
	}
}

func TestKQuantSizes(t *testing.T) {
	for _, c := range []struct {
		dt    DType
		bytes int
	}{{Q4_K, 144}, {Q5_K, 176}, {Q6_K, 210}} {
		if c.dt.BlockElems() != QK_K || c.dt.BlockBytes() != c.bytes {
			t.Errorf("%s: %d elements in %d bytes, want 256 in %d", c.dt, c.dt.BlockElems(), c.dt.BlockBytes(), c.bytes)
		}
		y := make([]float32, 512)
		if err := Dequantize(c.dt, make([]byte, 2*c.bytes), y); err != nil {
			t.Errorf("%s: %v", c.dt, err)
		}
		for _, v := range y {
			if v != 0 {
				t.Fatalf("%s: zero block decodes to %g", c.dt, v)
			}
		}
	}
}
