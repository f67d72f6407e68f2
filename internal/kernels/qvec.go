package kernels

import (
	"sync/atomic"
	"unsafe"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// Integer path of the matrix-vector product (decode, one token) for the
// block-quantized weight types: x is quantized once per product to 8 bits
// per element with one scale per 32, exactly as quantizeActsGo quantizes a
// token for the prefill, and each weight block is dotted with it in integer
// arithmetic. Decoding one token then costs a few integer instructions per
// 32 weights instead of widening every weight to float32, which is what
// keeps Q4/Q5 decode at the memory bandwidth rather than below it.
//
// For row r: y = Σ_b float32(isum_b)·(dw_b·dx_b) [+ c_b·sx_b], the same
// arithmetic as matMulQGeneric for one token, so the generic twins of
// decode and prefill agree bit for bit. SIMD sets sum the blocks in another
// order (float rounding only).

// qVec holds one token's quantized activations.
type qVec struct {
	nb int
	q  []byte    // nb·32 int8 codes, 32-byte aligned
	ds []float32 // per block: dx, sx = dx·Σq
	sq []int32   // per block: Σq
	qm []uint64  // backing store of q
}

// reset sizes v for cols elements, reusing its memory.
func (v *qVec) reset(cols int) {
	v.nb = cols / 32
	n := v.nb * 32
	if len(v.qm)*8 < n+32 {
		v.qm = make([]uint64, (n+32)/8+1)
	}
	if cap(v.ds) < 2*v.nb {
		v.ds, v.sq = make([]float32, 2*v.nb), make([]int32, v.nb)
	}
	v.ds, v.sq = v.ds[:2*v.nb], v.sq[:v.nb]
	// 32-byte aligned, so that no block's load splits a cache line.
	b := unsafe.Slice((*byte)(unsafe.Pointer(&v.qm[0])), len(v.qm)*8)
	off := int((32 - uintptr(unsafe.Pointer(&b[0]))%32) % 32)
	v.q = b[off : off+n]
}

// quantizeVecGo fills v from x (len nb·32) with quantizeActsGo's rounding:
// dx = amax/127, q = roundeven(x·(1/dx)) clamped to ±127; a block holding
// NaN or ±Inf gets dx = sx = NaN and q = 0.
func quantizeVecGo(v *qVec, x []float32) {
	for b := 0; b < v.nb; b++ {
		q := (*[32]int8)(unsafe.Pointer(&v.q[b*32]))
		dx, sq := quantBlock(x[b*32:b*32+32], q)
		v.ds[2*b], v.ds[2*b+1], v.sq[b] = dx, dx*float32(sq), sq
	}
}

// matVecQGeneric is the reference of the integer decode path.
func matVecQGeneric(m *Mat, v *qVec, y []float32, lo, hi int) {
	qw := qWeightsOf(m.DType)
	signed := m.DType == tensor.Q8_0
	bb := m.DType.BlockBytes()
	var u [32]byte
	for r := lo; r < hi; r++ {
		row := m.Row(r)
		var acc float32
		for b := 0; b < v.nb; b++ {
			d, c := decodeQBlock(m.DType, row[b*bb:(b+1)*bb], &u)
			q := v.q[b*32 : b*32+32]
			var is int32
			for j, w := range u {
				wi := int32(w)
				if signed {
					wi = int32(int8(w))
				}
				is += wi * int32(int8(q[j]))
			}
			is -= qw.off * v.sq[b]
			acc += float32(float32(is) * (d * v.ds[2*b]))
			if qw.hasM {
				acc += float32(c * v.ds[2*b+1])
			}
		}
		y[r] = acc
	}
}

// integerDecode selects the integer path for quantized weights in MatVec.
var integerDecode = func() *atomic.Bool { var b atomic.Bool; b.Store(true); return &b }()

// SetIntegerDecode chooses how MatVec (one token) multiplies block-quantized
// weights. On (the default), x is quantized to 8 bits per block of 32 like
// a prefill token (SetIntegerPrefill), and decode and prefill agree to
// float rounding; ggml does the same. Off, the weights are widened to float
// and x stays float32.
func SetIntegerDecode(on bool) { integerDecode.Store(on) }

// IntegerDecode reports the current choice of SetIntegerDecode.
func IntegerDecode() bool { return integerDecode.Load() }

// decodesInt reports whether im's MatVec of m runs on 8-bit activations:
// a block-quantized type, SetIntegerDecode on, and an integer kernel in im.
func (im *Impl) decodesInt(m *Mat) bool {
	return intPath(m.DType) && integerDecode.Load() && im.MatVecQ != nil
}
