//go:build amd64 && !purego

package kernels

import "github.com/rwkv-chat/rwkv-chat/internal/tensor"

//go:noescape
func mvqQ8_0x4(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32, pf int)

//go:noescape
func mvqQ4_0x4(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32, pf int)

//go:noescape
func mvqQ4_1x4(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32, pf int)

//go:noescape
func mvqQ5_0x4(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32, pf int)

//go:noescape
func mvqQ5_1x4(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32, pf int)

// The same kernels with AVX-512 VNNI (matvecq_avx512_amd64.s), which run
// a rowRun of groups per call.

//go:noescape
func mvqQ8_0x4V(w *byte, stride int, q *byte, ds *float32, n int, y *float32, tbl *[65536]float32, pf int, groups, step, ystride, ystep int)

//go:noescape
func mvqQ4_0x4V(w *byte, stride int, q *byte, ds *float32, n int, y *float32, tbl *[65536]float32, pf int, groups, step, ystride, ystep int)

//go:noescape
func mvqQ4_1x4V(w *byte, stride int, q *byte, ds *float32, n int, y *float32, tbl *[65536]float32, pf int, groups, step, ystride, ystep int)

//go:noescape
func mvqQ5_0x4V(w *byte, stride int, q *byte, ds *float32, n int, y *float32, tbl *[65536]float32, pf int, groups, step, ystride, ystep int)

//go:noescape
func mvqQ5_1x4V(w *byte, stride int, q *byte, ds *float32, n int, y *float32, tbl *[65536]float32, pf int, groups, step, ystride, ystep int)

func matVecQAVX2(m *Mat, v *qVec, y []float32, lo, hi int) { matVecQAsm(m, v, y, lo, hi, false) }

func matVecQAVX512(m *Mat, v *qVec, y []float32, lo, hi int) { matVecQAsm(m, v, y, lo, hi, true) }

// matVecQAsm runs the four-row integer kernels (the VNNI ones if vnni) over
// [lo, hi) in the order of rowRuns: a run per call with VNNI, a group
// per call without.
func matVecQAsm(m *Mat, v *qVec, y []float32, lo, hi int, vnni bool) {
	if lo >= hi {
		return
	}
	if v.nb == 0 {
		clear(y[lo:hi])
		return
	}
	y = y[:hi]
	rb := m.RowBytes
	q, ds, nb, pf := &v.q[0], &v.ds[0], v.nb, prefetchQuant
	var out [4]float32
	runs, nr := rowRuns(lo, hi)
	for _, rn := range runs[:nr] {
		stride := rn.stride * rb
		if vnni {
			last := rn.last()
			_ = y[last]
			w := &m.Data[rn.r*rb : (last+1)*rb][0]
			yp, step, ys, yst := &y[rn.r], rn.step*rb, rn.stride*4, rn.step*4
			switch m.DType {
			case tensor.Q8_0:
				mvqQ8_0x4V(w, stride, q, ds, nb, yp, f16Table, pf, rn.groups, step, ys, yst)
			case tensor.Q4_0:
				mvqQ4_0x4V(w, stride, q, ds, nb, yp, f16Table, pf, rn.groups, step, ys, yst)
			case tensor.Q4_1:
				mvqQ4_1x4V(w, stride, q, ds, nb, yp, f16Table, pf, rn.groups, step, ys, yst)
			case tensor.Q5_0:
				mvqQ5_0x4V(w, stride, q, ds, nb, yp, f16Table, pf, rn.groups, step, ys, yst)
			default:
				mvqQ5_1x4V(w, stride, q, ds, nb, yp, f16Table, pf, rn.groups, step, ys, yst)
			}
			continue
		}
		for g := 0; g < rn.groups; g++ {
			r := rn.first(g)
			w := &m.Data[r*rb : r*rb+3*stride+rb][0]
			// A direct call per kernel: through a func value, out would escape.
			switch m.DType {
			case tensor.Q8_0:
				mvqQ8_0x4(w, stride, q, ds, nb, &out, f16Table, pf)
			case tensor.Q4_0:
				mvqQ4_0x4(w, stride, q, ds, nb, &out, f16Table, pf)
			case tensor.Q4_1:
				mvqQ4_1x4(w, stride, q, ds, nb, &out, f16Table, pf)
			case tensor.Q5_0:
				mvqQ5_0x4(w, stride, q, ds, nb, &out, f16Table, pf)
			default:
				mvqQ5_1x4(w, stride, q, ds, nb, &out, f16Table, pf)
			}
			rn.store(y, r, &out)
		}
	}
}
