package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// fuzzMat builds a matrix from fuzz input: the type, shape and offset from
// the small integers, the weight bytes from raw (repeated), so any bit
// pattern — NaN, Inf, subnormal, huge scales — can occur. When a block
// type comes out with cols a multiple of 256, the upper bits of dtSel may
// turn it into a k-quant (Q4_K, Q5_K, Q6_K) of one to four super-blocks.
func fuzzMat(t *testing.T, dtSel, rows8 uint8, cols16 uint16, off uint8, raw []byte) *Mat {
	dt := allTypes[int(dtSel)%len(allTypes)]
	rows := 1 + int(rows8)%12
	cols := 1 + int(cols16)%400
	if dt.Quantized() {
		cols = 32 * (1 + int(cols16)%12)
		if k := int(dtSel) / len(allTypes) % 4; cols%256 == 0 && k > 0 {
			dt = kTypes[k-1]
			cols = 256 * (1 + int(cols16)/12%4)
		}
	}
	n, _ := dt.Bytes(int64(rows * cols))
	data := make([]byte, n)
	if len(raw) == 0 {
		raw = []byte{0x3c, 0x01}
	}
	for i := range data {
		data[i] = raw[i%len(raw)] ^ byte(i*7)
	}
	return newTestMat(t, dt, rows, cols, data, int(off)%4)
}

func finiteAll(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}

// agree is the fuzz comparison: finite inputs with a representable scale
// must agree within tol·scale; otherwise non-finite must stay non-finite.
func agree(got, want float32, scale, tol float64, finiteIn bool) bool {
	g, w := float64(got), float64(want)
	nf := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	if !finiteIn || math.IsNaN(scale) || scale > 1e30 {
		return !nf(w) || nf(g) || scale > 1e30
	}
	if nf(w) || nf(g) {
		return nf(w) == nf(g) || scale > 1e30
	}
	return math.Abs(g-w) <= tol*scale+1e-30
}

func rowScaleAndFinite(m *Mat, r int, x []float32) (float64, bool) {
	row := make([]float32, m.Cols)
	_ = tensor.Dequantize(m.DType, m.Row(r), row)
	return absDot(m, r, x), finiteAll(row) && finiteAll(x)
}

func FuzzMatVec(f *testing.F) {
	f.Add(uint8(1), uint8(5), uint16(77), uint8(1), uint64(1), []byte{0x3c, 0x00, 0x12})
	f.Add(uint8(4), uint8(9), uint16(3), uint8(2), uint64(2), []byte{0x2c, 0x11, 0x99, 0x7c})
	f.Add(uint8(11), uint8(5), uint16(7), uint8(1), uint64(3), []byte{0x3c, 0x01, 0x12, 0x35})  // Q4_K, 256 columns
	f.Add(uint8(19), uint8(6), uint16(19), uint8(3), uint64(4), []byte{0x2c, 0x01, 0x99, 0x7c}) // Q5_K, 512
	f.Add(uint8(27), uint8(4), uint16(43), uint8(2), uint64(5), []byte{0x11, 0x22, 0x33, 0x14}) // Q6_K, 1024
	f.Fuzz(func(t *testing.T, dtSel, rows8 uint8, cols16 uint16, off uint8, seed uint64, raw []byte) {
		m := fuzzMat(t, dtSel, rows8, cols16, off, raw)
		x := offsetVec(randVec(rand.New(rand.NewPCG(seed, 0)), m.Cols), int(off/4)%4)
		want := make([]float32, m.Rows)
		Generic().MatVec(m, x, want, 0, m.Rows)
		for _, im := range simdSets(t) {
			got := make([]float32, m.Rows)
			im.MatVec(m, x, got, 0, m.Rows)
			for r := range got {
				scale, fin := rowScaleAndFinite(m, r, x)
				if !agree(got[r], want[r], scale, 1e-5, fin) {
					t.Fatalf("%s row %d: got %v want %v (scale %g)", describe(im, m.DType, m.Rows, m.Cols), r, got[r], want[r], scale)
				}
			}
		}
		if !intPath(m.DType) {
			return
		}
		// The integer decode path against its generic twin.
		v := quantVec(Generic(), x)
		matVecQGeneric(m, v, want, 0, m.Rows)
		for _, im := range qSets(t) {
			got := make([]float32, m.Rows)
			im.MatVecQ(m, v, got, 0, m.Rows)
			for r := range got {
				_, fin := rowScaleAndFinite(m, r, x)
				if scale := qTermScale(m, r, v); !agree(got[r], want[r], scale, 1e-5, fin) {
					t.Fatalf("%s integer row %d: got %v want %v (scale %g)", describe(im, m.DType, m.Rows, m.Cols), r, got[r], want[r], scale)
				}
			}
		}
	})
}

func FuzzMatMul(f *testing.F) {
	f.Add(uint8(0), uint8(5), uint16(77), uint8(1), uint8(3), uint64(1), []byte{0x3c, 0x00, 0x12})
	f.Add(uint8(5), uint8(9), uint16(3), uint8(2), uint8(9), uint64(2), []byte{0x2c, 0x11, 0x99, 0x7c})
	f.Add(uint8(12), uint8(7), uint16(19), uint8(1), uint8(5), uint64(3), []byte{0x3c, 0x01, 0x12, 0x35}) // Q4_K, 512 columns
	f.Add(uint8(20), uint8(4), uint16(7), uint8(3), uint8(12), uint64(4), []byte{0x2c, 0x01, 0x99, 0x7c}) // Q5_K, 256
	f.Add(uint8(28), uint8(9), uint16(31), uint8(2), uint8(2), uint64(5), []byte{0x11, 0x22, 0x33, 0x14}) // Q6_K, 768
	f.Fuzz(func(t *testing.T, dtSel, rows8 uint8, cols16 uint16, off, T8 uint8, seed uint64, raw []byte) {
		m := fuzzMat(t, dtSel, rows8, cols16, off, raw)
		T := 2 + int(T8)%20
		x := randVec(rand.New(rand.NewPCG(seed, 1)), T*m.Cols)
		if seed%5 == 0 {
			x[int(seed/5)%len(x)] = float32(math.Inf(1))
		}
		want := runMatMul(Generic(), m, x, T)
		for _, im := range simdSets(t) {
			got := runMatMul(im, m, x, T)
			for i := range got {
				if intPath(m.DType) {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
						t.Fatalf("%s T=%d y[%d]: got %v want %v (must be equal)", describe(im, m.DType, m.Rows, m.Cols), T, i, got[i], want[i])
					}
					continue
				}
				tt, r := i/m.Rows, i%m.Rows
				scale, fin := rowScaleAndFinite(m, r, x[tt*m.Cols:(tt+1)*m.Cols])
				if !agree(got[i], want[i], scale, 1e-5, fin) {
					t.Fatalf("%s T=%d token %d row %d: got %v want %v", describe(im, m.DType, m.Rows, m.Cols), T, tt, r, got[i], want[i])
				}
			}
		}
	})
}

func FuzzWKV(f *testing.F) {
	f.Add(uint8(2), uint8(64), uint64(1))
	f.Add(uint8(1), uint8(7), uint64(2))
	f.Fuzz(func(t *testing.T, H8, N8 uint8, seed uint64) {
		H, N := 1+int(H8)%4, 1+int(N8)%96
		c := newWKVCase(rand.New(rand.NewPCG(seed, 2)), H, N)
		for _, im := range simdSets(t) {
			S1, S2 := clone(c.S), clone(c.S)
			y1, y2 := make([]float32, H*N), make([]float32, H*N)
			im.WKV5(H, N, c.r, c.k, c.v, c.w, c.u, S1, y1)
			Generic().WKV5(H, N, c.r, c.k, c.v, c.w, c.u, S2, y2)
			for i := range y1 {
				if !closeRel(y1[i], y2[i], 1e-3*float64(N), 1e-3) {
					t.Fatalf("%s WKV5 H=%d N=%d y[%d]: %v vs %v", im.Name, H, N, i, y1[i], y2[i])
				}
			}
			for i := range S1 {
				if !closeRel(S1[i], S2[i], 10, 1e-6) {
					t.Fatalf("%s WKV5 H=%d N=%d S[%d]: %v vs %v", im.Name, H, N, i, S1[i], S2[i])
				}
			}
			S1, S2 = clone(c.S), clone(c.S)
			im.WKV7(H, N, c.r, c.dec, c.k, c.v, c.kk, c.b, S1, y1)
			Generic().WKV7(H, N, c.r, c.dec, c.k, c.v, c.kk, c.b, S2, y2)
			for i := range y1 {
				if !closeRel(y1[i], y2[i], 10*float64(N), 1e-5) {
					t.Fatalf("%s WKV7 H=%d N=%d y[%d]: %v vs %v", im.Name, H, N, i, y1[i], y2[i])
				}
			}
			for i := range S1 {
				if !closeRel(S1[i], S2[i], 10*float64(N), 1e-6) {
					t.Fatalf("%s WKV7 H=%d N=%d S[%d]: %v vs %v", im.Name, H, N, i, S1[i], S2[i])
				}
			}
		}
	})
}
