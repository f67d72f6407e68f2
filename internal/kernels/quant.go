package kernels

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// Integer path of the matrix-matrix product for the block-quantized weight
// types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1): the T activation rows are quantized
// once per call to 8 bits per element with one float scale per 32, and the
// weight blocks are dotted with them in integer arithmetic. Every kernel set
// runs exactly the same arithmetic (exact integer block sums, then the same
// float32 operations in the same order), so the sets agree bit for bit.
//
// For row r, token t: y = Σ_b float32(isum_b)·(dw_b·dx_b) [+ c_b·sx_b]
// where isum_b = Σ_j u_j·q_j − off·Σ_j q_j, u the weight codes (signed for
// Q8_0, unsigned nibbles or 5-bit values otherwise), off 8 (Q4_0), 16 (Q5_0)
// or 0, and the c_b·sx_b term (c = m, sx = dx·Σq) only for Q4_1 and Q5_1.

// qaBlockBytes is one (token octet, block) record of quantized activations:
// q[8 groups][8 tokens][4] int8 (elements 4g..4g+3 of token t at
// 32g+4t), then dx[8] float32, sx[8] float32 and sq[8] int32 per token.
const (
	qaBlockBytes = 352
	qaDX         = 256
	qaSX         = 288
	qaSQ         = 320
)

// qActs holds the quantized activations of one product: T tokens in
// ceil(T/8) octets of nb blocks each (padding tokens are all zero).
type qActs struct {
	T, nb, no int
	buf       []byte
	mem       []uint64
}

// intPath reports whether MatMul on dt uses quantized activations.
func intPath(dt tensor.DType) bool {
	switch dt {
	case tensor.Q8_0, tensor.Q4_0, tensor.Q4_1, tensor.Q5_0, tensor.Q5_1:
		return true
	}
	return false
}

// reset sizes a for T tokens of cols elements, reusing its memory.
func (a *qActs) reset(T, cols int) {
	a.T, a.nb, a.no = T, cols/32, (T+7)/8
	n := a.no * a.nb * qaBlockBytes
	if len(a.mem)*8 < n+64 {
		a.mem = make([]uint64, (n+64)/8+1)
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&a.mem[0])), len(a.mem)*8)
	off := int((64 - uintptr(unsafe.Pointer(&b[0]))%64) % 64) // 64-byte aligned records
	a.buf = b[off : off+n]
}

// block returns the record of octet o, block b.
func (a *qActs) block(o, b int) []byte {
	i := (o*a.nb + b) * qaBlockBytes
	return a.buf[i : i+qaBlockBytes]
}

// qNaN marks the scale of a block that held NaN or ±Inf.
var qNaN = math.Float32frombits(0x7fc00000)

func f32at(b []byte, i int) float32 { return *(*float32)(unsafe.Pointer(&b[i])) }
func i32at(b []byte, i int) int32   { return *(*int32)(unsafe.Pointer(&b[i])) }

func setF32(b []byte, i int, v float32) { *(*float32)(unsafe.Pointer(&b[i])) = v }
func setI32(b []byte, i int, v int32)   { *(*int32)(unsafe.Pointer(&b[i])) = v }

// quantizeActsGo quantizes the octets [lo, hi) of x (T×cols) into a. Per
// token and block of 32: dx = amax/127, q = roundeven(x·(1/dx)) clamped to
// ±127; a block holding NaN or ±Inf gets dx = NaN and q = 0, so that
// non-finite inputs give non-finite outputs.
func quantizeActsGo(a *qActs, x []float32, lo, hi int) {
	cols := a.nb * 32
	for o := lo; o < hi; o++ {
		for b := 0; b < a.nb; b++ {
			rec := a.block(o, b)
			for tt := 0; tt < 8; tt++ {
				t := o*8 + tt
				if t >= a.T {
					for g := 0; g < 8; g++ {
						setI32(rec, 32*g+4*tt, 0)
					}
					setF32(rec, qaDX+4*tt, 0)
					setF32(rec, qaSX+4*tt, 0)
					setI32(rec, qaSQ+4*tt, 0)
					continue
				}
				var q [32]int8
				dx, sq := quantBlock(x[t*cols+b*32:t*cols+b*32+32], &q)
				for j, c := range q {
					rec[32*(j/4)+4*tt+j%4] = byte(c)
				}
				setF32(rec, qaDX+4*tt, dx)
				setF32(rec, qaSX+4*tt, dx*float32(sq)) // NaN·0 = NaN for a non-finite block
				setI32(rec, qaSQ+4*tt, sq)
			}
		}
	}
}

// quantBlock quantizes one block of 32 activations into q and returns its
// scale and Σq: dx = amax/127, q = roundeven(x·(1/dx)) clamped to ±127; a
// block holding NaN or ±Inf gets dx = NaN and q = 0. The integer MatMul
// (quantizeActsGo) and MatVec (quantizeVecGo) both use it, so decode and
// prefill see the same codes.
func quantBlock(xs []float32, q *[32]int8) (dx float32, sq int32) {
	var amax float32
	for _, v := range xs[:32] {
		av := float32(math.Abs(float64(v)))
		if !(av <= math.MaxFloat32) {
			*q = [32]int8{}
			return qNaN, 0
		}
		amax = max(amax, av)
	}
	dx = amax / 127
	var id float32
	if dx != 0 {
		id = 1 / dx
	}
	for j, v := range xs[:32] {
		c := float32(math.RoundToEven(float64(v * id)))
		c = min(max(c, -127), 127)
		sq += int32(c)
		q[j] = int8(c)
	}
	return dx, sq
}

// quantizeActsTok is quantizeActsGo with each real token's row done by tok
// (an assembly twin of the inner loop, writing the token's lane of its
// octet's records); padding lanes are zeroed here.
func quantizeActsTok(a *qActs, x []float32, lo, hi int, tok func(x *float32, nb int, rec *byte)) {
	cols := a.nb * 32
	x = x[:a.T*cols]
	for o := lo; o < hi; o++ {
		rec := a.block(o, 0)
		for tt := 0; tt < 8; tt++ {
			if t := o*8 + tt; t < a.T {
				tok(&x[t*cols], a.nb, &rec[4*tt])
				continue
			}
			for b := 0; b < a.nb; b++ {
				r := a.block(o, b)
				for g := 0; g < 8; g++ {
					setI32(r, 32*g+4*tt, 0)
				}
				setF32(r, qaDX+4*tt, 0)
				setF32(r, qaSX+4*tt, 0)
				setI32(r, qaSQ+4*tt, 0)
			}
		}
	}
}

// qWeights describes how a quant type's blocks decode for the integer path.
type qWeights struct {
	off  int32 // subtracted per activation unit: 8 (Q4_0), 16 (Q5_0), 0
	hasM bool  // block has an additive minimum m (Q4_1, Q5_1)
}

func qWeightsOf(dt tensor.DType) qWeights {
	switch dt {
	case tensor.Q4_0:
		return qWeights{off: 8}
	case tensor.Q5_0:
		return qWeights{off: 16}
	case tensor.Q4_1, tensor.Q5_1:
		return qWeights{hasM: true}
	}
	return qWeights{}
}

// decodeQBlock writes the 32 weight codes of one block in element order
// (int8 for Q8_0, unsigned 0..15 or 0..31 otherwise, stored as bytes) and
// returns the block's scale d and offset coefficient c (m, or 0).
func decodeQBlock(dt tensor.DType, blk []byte, u *[32]byte) (d, c float32) {
	d = f16Table[binary.LittleEndian.Uint16(blk)]
	switch dt {
	case tensor.Q8_0:
		copy(u[:], blk[2:34])
	case tensor.Q4_0, tensor.Q4_1:
		q := blk[2:18]
		if dt == tensor.Q4_1 {
			c = f16Table[binary.LittleEndian.Uint16(blk[2:])]
			q = blk[4:20]
		}
		for j := 0; j < 16; j++ {
			u[j] = q[j] & 0xf
			u[j+16] = q[j] >> 4
		}
	case tensor.Q5_0, tensor.Q5_1:
		qh := binary.LittleEndian.Uint32(blk[2:])
		q := blk[6:22]
		if dt == tensor.Q5_1 {
			c = f16Table[binary.LittleEndian.Uint16(blk[2:])]
			qh = binary.LittleEndian.Uint32(blk[4:])
			q = blk[8:24]
		}
		for j := 0; j < 16; j++ {
			u[j] = q[j]&0xf | byte((qh>>uint(j))<<4)&0x10
			u[j+16] = q[j]>>4 | byte(qh>>uint(j+12))&0x10
		}
	}
	return d, c
}

// matMulQGeneric is the reference of the integer path.
func matMulQGeneric(m *Mat, a *qActs, y []float32, ystride, lo, hi int, scratch []byte) {
	nb := m.Cols / 32
	qw := qWeightsOf(m.DType)
	signed := m.DType == tensor.Q8_0
	// Codes as int32 (4 per element of scratch), then d and c per block.
	codes := unsafe.Slice((*int32)(unsafe.Pointer(&scratch[0])), nb*32)
	ds := unsafe.Slice((*float32)(unsafe.Pointer(&scratch[nb*128])), 2*nb)
	bb := m.DType.BlockBytes()
	var u [32]byte
	var isum [8]int32
	for r := lo; r < hi; r++ {
		row := m.Row(r)
		for b := 0; b < nb; b++ {
			ds[2*b], ds[2*b+1] = decodeQBlock(m.DType, row[b*bb:(b+1)*bb], &u)
			for j, v := range u {
				if signed {
					codes[b*32+j] = int32(int8(v))
				} else {
					codes[b*32+j] = int32(v)
				}
			}
		}
		for o := 0; o < a.no; o++ {
			var acc [8]float32
			for b := 0; b < nb; b++ {
				rec := a.block(o, b)
				w := codes[b*32 : b*32+32]
				isum = [8]int32{}
				for g := 0; g < 8; g++ {
					w0, w1, w2, w3 := w[4*g], w[4*g+1], w[4*g+2], w[4*g+3]
					q := rec[32*g : 32*g+32]
					for tt := 0; tt < 8; tt++ {
						isum[tt] += w0*int32(int8(q[4*tt])) + w1*int32(int8(q[4*tt+1])) +
							w2*int32(int8(q[4*tt+2])) + w3*int32(int8(q[4*tt+3]))
					}
				}
				for tt := 0; tt < 8; tt++ {
					is := isum[tt] - qw.off*i32at(rec, qaSQ+4*tt)
					d := ds[2*b] * f32at(rec, qaDX+4*tt)
					acc[tt] += float32(float32(is) * d)
					if qw.hasM {
						acc[tt] += float32(ds[2*b+1] * f32at(rec, qaSX+4*tt))
					}
				}
			}
			for tt := 0; tt < 8 && o*8+tt < a.T; tt++ {
				y[(o*8+tt)*ystride+r] = acc[tt]
			}
		}
	}
}

// qScratchBytes is the per-worker scratch the integer path needs.
func qScratchBytes(cols int) int { return (cols/32)*(4*64+4*8) + 64 }
