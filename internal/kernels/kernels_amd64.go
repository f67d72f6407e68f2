//go:build amd64 && !purego

package kernels

// Assembly in kernels_amd64.s. Pointers must be valid for every element the
// count covers; the Go callers check the sizes.

//go:noescape
func dotAVX2(a, b *float32, n int) float32

//go:noescape
func mvF32x4(w *float32, stride int, x *float32, n int, y *[4]float32)

//go:noescape
func mvF16x4(w *uint16, stride int, x *float32, n int, y *[4]float32)

//go:noescape
func mvBF16x4(w *uint16, stride int, x *float32, n int, y *[4]float32)

//go:noescape
func mvQ8_0x4(w *byte, stride int, x *float32, n int, y *[4]float32)

//go:noescape
func mvQ4_0x4(w *byte, stride int, x *float32, n int, y *[4]float32)

//go:noescape
func mvQ4_1x4(w *byte, stride int, x *float32, n int, y *[4]float32)

//go:noescape
func mvQ5_0x4(w *byte, stride int, x *float32, n int, y *[4]float32, lut *[256][8]uint32)

//go:noescape
func mvQ5_1x4(w *byte, stride int, x *float32, n int, y *[4]float32, lut *[256][8]uint32)
