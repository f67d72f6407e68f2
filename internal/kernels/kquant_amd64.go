//go:build amd64 && !purego

package kernels

// Assembly in kquant_amd64.s: the k-quant (Q4_K, Q5_K, Q6_K) kernels of
// the avx2 set. Pointers must be valid for every block the count covers;
// the Go callers check the sizes.

//go:noescape
func mvQ4Kx4(w *byte, stride int, x *float32, nb int, y *[4]float32, xs *float32)

//go:noescape
func mvQ5Kx4(w *byte, stride int, x *float32, nb int, y *[4]float32, xs *float32)

//go:noescape
func mvQ6Kx4(w *byte, stride int, x *float32, nb int, y *[4]float32, xs *float32)

//go:noescape
func kxsums(x *float32, nb int, xs *float32)

//go:noescape
func dqQ4K(src *byte, nb int, dst *float32)

//go:noescape
func dqQ5K(src *byte, nb int, dst *float32)

//go:noescape
func dqQ6K(src *byte, nb int, dst *float32)
