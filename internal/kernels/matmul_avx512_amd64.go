//go:build amd64 && !purego

package kernels

// Assembly in matmul_avx512_amd64.s (AVX-512 F and VL); see matMulFloat.
// The kernel writes y itself (masked stores of the valid rows and tokens):
// the Go-side copy of the sums cost as much as a third of a call.

//go:noescape
func mmF32x4x6z(w *float32, wstride int, x0, x1, x2, x3, x4, x5 *float32, n int, y *float32, ystride, nt, rows, acc int)
