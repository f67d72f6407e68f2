//go:build amd64 && !purego

package kernels

// Assembly in kernels_amd64.s. Pointers must be valid for every element the
// count covers; the Go callers check the sizes.

//go:noescape
func dotAVX2(a, b *float32, n int) float32

//go:noescape
func mvF32x4(w *float32, stride int, x *float32, n int, y *float32, pf int, groups, step, ystride, ystep int)

//go:noescape
func mvF16x4(w *uint16, stride int, x *float32, n int, y *float32, pf int, groups, step, ystride, ystep int)

//go:noescape
func mvBF16x4(w *uint16, stride int, x *float32, n int, y *float32, pf int, groups, step, ystride, ystep int)

//go:noescape
func mvQ8_0x4(w *byte, stride int, x *float32, n int, y *[4]float32, tbl *[65536]float32)

//go:noescape
func mvQ4_0x4(w *byte, stride int, x *float32, n int, y *[4]float32, tbl *[65536]float32)

//go:noescape
func mvQ4_1x4(w *byte, stride int, x *float32, n int, y *[4]float32, tbl *[65536]float32)

//go:noescape
func mvQ5_0x4(w *byte, stride int, x *float32, n int, y *[4]float32, lut *[256][8]uint32, tbl *[65536]float32)

//go:noescape
func mvQ5_1x4(w *byte, stride int, x *float32, n int, y *[4]float32, lut *[256][8]uint32, tbl *[65536]float32)

//go:noescape
func cvtF16(dst *float32, src *uint16, n int)

//go:noescape
func cvtBF16(dst *float32, src *uint16, n int)

//go:noescape
func mmF32x4x3(w *float32, wstride int, x0, x1, x2 *float32, n int, out *[12]float32)

// qmmArgs is the argument block of the integer-path kernels; the assembly
// reads the fields by offset.
type qmmArgs struct {
	wt    *byte        // 0
	dwc   *float32     // 8
	xq    *byte        // 16
	nb    int          // 24
	out   *[32]float32 // 32
	shift int          // 40
	hasM  int          // 48
	xq2   *byte        // 56: mmQVx16's second octet
	out2  *[32]float32 // 64: and its results
}

//go:noescape
func mmQ4x8(a *qmmArgs)

//go:noescape
func mmQ5x8(a *qmmArgs)

//go:noescape
func mmQ8x8(a *qmmArgs)

//go:noescape
func reluSqAVX2(x *float32, n int)

// fmaLoopY runs n rounds of 12 independent 256-bit FMAs.
func fmaLoopY(n int)

//go:noescape
func quantTok(x *float32, nb int, rec *byte)

//go:noescape
func quantVecBlocks(x *float32, nb int, q *byte, ds *float32, sq *int32)

//go:noescape
func decQ4_0(src *byte, nb int, wt *byte, dwc *float32)

//go:noescape
func decQ4_1(src *byte, nb int, wt *byte, dwc *float32)

//go:noescape
func decQ5_0(src *byte, nb int, wt *byte, dwc *float32)

//go:noescape
func decQ5_1(src *byte, nb int, wt *byte, dwc *float32)

//go:noescape
func decQ8_0(src *byte, nb int, wt *byte, dwc *float32)

//go:noescape
func wkv5x32(S *float32, N int, r, k, w, v, y, ruk *float32)

//go:noescape
func wkv5x8(S *float32, N int, r, k, w, v, y, ruk *float32)

//go:noescape
func wkv7Head(S *float32, N int, r, dec, k, kk, b, v, y *float32)

//go:noescape
func expAVX2(out, x *float32, n int)

//go:noescape
func sigmoidAVX2(out, x *float32, n int)

//go:noescape
func lerpAVX2(out, a, b, mu *float32, n int)

//go:noescape
func sumAVX2(x *float32, n int) float32

//go:noescape
func sqDevAVX2(x *float32, n int, mean float32) float32

//go:noescape
func normAVX2(out, x, w, b *float32, n int, mean, inv float32)
