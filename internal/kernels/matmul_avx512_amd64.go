//go:build amd64 && !purego

package kernels

// Assembly in matmul_avx512_amd64.s (AVX-512F); see matMulFloat.

//go:noescape
func mmF32x4x6z(w *float32, wstride int, x0, x1, x2, x3, x4, x5 *float32, n int, out *[24]float32)

//go:noescape
func mmF32x4x5z(w *float32, wstride int, x0, x1, x2, x3, x4 *float32, pad int, n int, out *[20]float32)
