//go:build amd64 && !purego

package kernels

import "github.com/rwkv-chat/rwkv-chat/internal/tensor"

//go:noescape
func mvqQ8_0x4(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32)

//go:noescape
func mvqQ4_0x4(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32)

//go:noescape
func mvqQ4_1x4(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32)

//go:noescape
func mvqQ5_0x4(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32)

//go:noescape
func mvqQ5_1x4(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32)

// matVecQAVX2 runs the four-row integer kernels over [lo, hi); the last
// rows, fewer than four, run the same kernel with stride 0.
func matVecQAVX2(m *Mat, v *qVec, y []float32, lo, hi int) {
	if lo >= hi {
		return
	}
	if v.nb == 0 {
		clear(y[lo:hi])
		return
	}
	y = y[:hi]
	rb := m.RowBytes
	var out [4]float32
	for r := lo; r < hi; {
		k, stride := 4, rb
		if r+4 > hi {
			k, stride = 1, 0 // one row at a time
		}
		w := m.Data[r*rb : (r+k)*rb]
		// A direct call per type: through a func value, out would escape.
		switch m.DType {
		case tensor.Q8_0:
			mvqQ8_0x4(&w[0], stride, &v.q[0], &v.ds[0], v.nb, &out, f16Table)
		case tensor.Q4_0:
			mvqQ4_0x4(&w[0], stride, &v.q[0], &v.ds[0], v.nb, &out, f16Table)
		case tensor.Q4_1:
			mvqQ4_1x4(&w[0], stride, &v.q[0], &v.ds[0], v.nb, &out, f16Table)
		case tensor.Q5_0:
			mvqQ5_0x4(&w[0], stride, &v.q[0], &v.ds[0], v.nb, &out, f16Table)
		default:
			mvqQ5_1x4(&w[0], stride, &v.q[0], &v.ds[0], v.nb, &out, f16Table)
		}
		copy(y[r:r+k], out[:k])
		r += k
	}
}
