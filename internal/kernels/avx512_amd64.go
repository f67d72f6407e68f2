//go:build amd64 && !purego

package kernels

import "github.com/rwkv-chat/rwkv-chat/internal/tensor"

// avx512Impl is the avx2 set with the kernels that gain from AVX-512
// replaced: 512-bit FMAs for the float MatMul (a full-width core such as
// Zen 5 doubles its FMA rate) and VNNI (VPDPBUSD: u8·s8 summed in int32 in
// one instruction, without the int16 saturation of VPMADDUBSW) for the
// integer products. Everything else is the avx2 code.
func avx512Impl() *Impl {
	im := avx2Impl()
	im.Name = "avx512"
	im.Why = "CPU has AVX-512 (F, BW, VL) and VNNI"
	im.MatMul = matMulAVX512
	im.MatMulQ = matMulQVNNI
	im.MatVecQ = matVecQAVX512
	im.FMALoop = func(n int) int { fmaLoopZ(n); return 12 * 16 * 2 * n }
	return im
}

// matMulAVX512 is the float product with the 4×6 zmm kernel.
func matMulAVX512(m *Mat, x []float32, T int, y []float32, ystride, lo, hi int, scratch []float32) {
	matMulFloat(m, x, T, y, ystride, lo, hi, scratch, mmZmm4x6)
}

// The VNNI integer MatMul (kernels_amd64.s): decVQ* decode a row into the
// tile (signed weights and −128·Σw per block), mmQVx16 multiplies a tile
// with two token octets (16 tokens per zmm), mmQVx8 with a last single one.

//go:noescape
func decVQ4_0(src *byte, nb int, wt *byte, dwc *float32)

//go:noescape
func decVQ4_1(src *byte, nb int, wt *byte, dwc *float32)

//go:noescape
func decVQ5_0(src *byte, nb int, wt *byte, dwc *float32)

//go:noescape
func decVQ5_1(src *byte, nb int, wt *byte, dwc *float32)

//go:noescape
func decVQ8_0(src *byte, nb int, wt *byte, dwc *float32)

//go:noescape
func mmQVx8(a *qmmArgs)

// matMulQVNNI is the integer MatMul with VPDPBUSD; it equals the avx2
// set's bit for bit.
func matMulQVNNI(m *Mat, a *qActs, y []float32, ystride, lo, hi int, scratch []byte) {
	matMulQx86(m, a, y, ystride, lo, hi, scratch, true)
}

// decodeTileVNNI decodes rows r..r+k-1 (k ≤ 4) into the VNNI tile; rows
// past k are zero (their −128·Σw too).
func decodeTileVNNI(m *Mat, r, k int, wt []byte, dwc []float32) {
	nb := m.Cols / 32
	dec := decVQ4_0
	switch m.DType {
	case tensor.Q4_1:
		dec = decVQ4_1
	case tensor.Q5_0:
		dec = decVQ5_0
	case tensor.Q5_1:
		dec = decVQ5_1
	case tensor.Q8_0:
		dec = decVQ8_0
	}
	_ = wt[nb*256-1]
	_ = dwc[8*nb-1]
	for i := 0; i < 4; i++ {
		if i < k {
			dec(&m.Row(r + i)[0], nb, &wt[i*64], &dwc[2*i])
			continue
		}
		for b := 0; b < nb; b++ {
			clear(wt[b*256+i*64 : b*256+(i+1)*64])
			dwc[8*b+2*i], dwc[8*b+2*i+1] = 0, 0
		}
	}
}

//go:noescape
func mmQVx16(a *qmmArgs)

// fmaLoopZ runs n rounds of 12 independent 512-bit FMAs.
func fmaLoopZ(n int)
