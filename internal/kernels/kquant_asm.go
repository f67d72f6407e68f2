//go:build (amd64 || arm64) && !purego

package kernels

import "github.com/rwkv-chat/rwkv-chat/internal/tensor"

// The drivers of the k-quant assembly kernels, the same on amd64
// (kquant_amd64.s) and arm64 (kquant_arm64.s): the kernels have the same
// names and arguments on both.

// kSegBlocks is the most super-blocks matVecKAsm takes in one pass over
// the rows: the sub-block sums of x for them live on its stack (8 KiB).
// Longer rows (over 65536 columns) are done in segments, their partial
// sums added.
const kSegBlocks = 256

// matVecKAsm is the MatVec of the k-quants on both SIMD sets: four rows
// per call sharing the loads of x; the last rows, fewer than four, one at
// a time (stride 0). The sub-block sums of x (Q4_K, Q5_K) are computed once per call.
func matVecKAsm(m *Mat, x, y []float32, lo, hi int) {
	nbAll := m.Cols / tensor.QK_K
	rb := m.RowBytes
	bb := m.DType.BlockBytes()
	x = x[:nbAll*tensor.QK_K]
	y = y[:hi]
	var xs [8 * kSegBlocks]float32
	var out [4]float32
	for b0 := 0; b0 < nbAll; b0 += kSegBlocks {
		nb := min(kSegBlocks, nbAll-b0)
		xb := x[b0*tensor.QK_K:]
		if m.DType != tensor.Q6_K {
			kxsums(&xb[0], nb, &xs[0])
		}
		for r := lo; r < hi; {
			k, stride := 4, rb
			if r+4 > hi {
				k, stride = 1, 0
			}
			w := m.Data[r*rb+b0*bb : (r+k-1)*rb+(b0+nb)*bb]
			switch m.DType { // direct calls keep out and xs on the stack
			case tensor.Q4_K:
				mvQ4Kx4(&w[0], stride, &xb[0], nb, &out, &xs[0])
			case tensor.Q5_K:
				mvQ5Kx4(&w[0], stride, &xb[0], nb, &out, &xs[0])
			default:
				mvQ6Kx4(&w[0], stride, &xb[0], nb, &out, &xs[0])
			}
			if b0 == 0 {
				copy(y[r:r+k], out[:k])
			} else {
				for i := 0; i < k; i++ {
					y[r+i] += out[i]
				}
			}
			r += k
		}
	}
}

// dequantRowKAsm is dequantRow with the k-quants dequantized in assembly.
func dequantRowKAsm(m *Mat, r int, out []float32) {
	nb := m.Cols / tensor.QK_K
	switch m.DType {
	case tensor.Q4_K:
		dqQ4K(&m.Row(r)[0], nb, &out[:nb*tensor.QK_K][0])
	case tensor.Q5_K:
		dqQ5K(&m.Row(r)[0], nb, &out[:nb*tensor.QK_K][0])
	case tensor.Q6_K:
		dqQ6K(&m.Row(r)[0], nb, &out[:nb*tensor.QK_K][0])
	default:
		dequantRow(m, r, out)
	}
}
