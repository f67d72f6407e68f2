package kernels

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// runMatMul calls a set's MatMul over all rows, as the pool would with one
// worker, and returns Y (T×Rows).
func runMatMul(im *Impl, m *Mat, x []float32, T int) []float32 {
	y := make([]float32, T*m.Rows)
	p := NewPool(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.matMul(im, m, x, T, y)
	return y
}

func checkMatMul(t *testing.T, im *Impl, m *Mat, x []float32, T int, tol float64) {
	t.Helper()
	got := runMatMul(im, m, x, T)
	want := runMatMul(Generic(), m, x, T)
	for tt := 0; tt < T; tt++ {
		xt := x[tt*m.Cols : (tt+1)*m.Cols]
		for r := 0; r < m.Rows; r++ {
			i := tt*m.Rows + r
			if tol == 0 {
				if got[i] != want[i] && !(got[i] != got[i] && want[i] != want[i]) {
					t.Fatalf("%s T=%d token %d row %d: got %v want %v (must be equal)", describe(im, m.DType, m.Rows, m.Cols), T, tt, r, got[i], want[i])
				}
				continue
			}
			if !closeRel(got[i], want[i], absDot(m, r, xt), tol) {
				t.Fatalf("%s T=%d token %d row %d: got %v want %v", describe(im, m.DType, m.Rows, m.Cols), T, tt, r, got[i], want[i])
			}
		}
	}
}

func TestMatMulFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	maxCols := 300
	if testing.Short() {
		maxCols = 70
	}
	for _, im := range simdSets(t) {
		for _, dt := range floatTypes {
			for cols := 1; cols <= maxCols; cols++ {
				rows := 1 + cols%9
				T := 2 + cols%11
				esz := 4
				if dt != tensor.F32 {
					esz = 2
				}
				off := cols % 4
				m := newTestMat(t, dt, rows, cols, randWeights(rng, dt, rows, cols), off*esz)
				x := offsetVec(randVec(rng, T*cols), (off+1)%4)
				checkMatMul(t, im, m, x, T, 1e-5)
			}
			for rows := 1; rows <= 9; rows++ {
				cols := 1000 + rows
				for _, T := range []int{2, 3, 4, 5, 7, 40} {
					m := newTestMat(t, dt, rows, cols, randWeights(rng, dt, rows, cols), 0)
					checkMatMul(t, im, m, randVec(rng, T*cols), T, 1e-5)
				}
			}
		}
	}
}

// TestMatMulFloatLongRows covers rows longer than one column panel or
// chunk of the SIMD drivers (1024 floats), with a Cols%8 tail, and more
// tokens than one token block (192 at 1024 columns).
func TestMatMulFloatLongRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, im := range simdSets(t) {
		for _, dt := range floatTypes {
			for _, cols := range []int{1024, 1032, 2051, 3000} {
				T := 7 + cols%5
				if cols == 1032 && !testing.Short() {
					T = 200
				}
				rows := 1 + cols%7
				m := newTestMat(t, dt, rows, cols, randWeights(rng, dt, rows, cols), 0)
				checkMatMul(t, im, m, randVec(rng, T*cols), T, 1e-5)
			}
		}
	}
}

// quantBound is the largest error the 8-bit activations can add to row r
// · token x: Σ_b (amax_b/254)·Σ_j|w_j|, plus float rounding.
func quantBound(m *Mat, r int, x []float32) float64 {
	row := make([]float32, m.Cols)
	if err := tensor.Dequantize(m.DType, m.Row(r), row); err != nil {
		panic(err)
	}
	var bound float64
	for b := 0; b < m.Cols/32; b++ {
		var amax, sw float64
		for j := b * 32; j < b*32+32; j++ {
			amax = max(amax, math.Abs(float64(x[j])))
			sw += math.Abs(float64(row[j]))
		}
		bound += amax / 254 * sw
	}
	return bound*1.001 + 1e-5*absDot(m, r, x)
}

func TestMatMulQuant(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, dt := range quantTypes {
		for cols := 32; cols <= 320; cols += 32 {
			for _, T := range []int{2, 3, 7, 8, 9, 17} {
				rows := 1 + (cols/32+T)%9
				off := (rows + T) % 4
				m := newTestMat(t, dt, rows, cols, randWeights(rng, dt, rows, cols), off)
				x := offsetVec(randVec(rng, T*cols), 3-off)
				want := runMatMul(Generic(), m, x, T)
				// The reference is within the 8-bit activation error of the
				// exact product.
				for tt := 0; tt < T; tt++ {
					xt := x[tt*cols : (tt+1)*cols]
					for r := 0; r < rows; r++ {
						w := make([]float32, cols)
						_ = tensor.Dequantize(dt, m.Row(r), w)
						var exact float64
						for j := range w {
							exact += float64(w[j]) * float64(xt[j])
						}
						if d := math.Abs(float64(want[tt*rows+r]) - exact); d > quantBound(m, r, xt) {
							t.Fatalf("generic %s T=%d token %d row %d: %v, exact %v, bound %v", describe(Generic(), dt, rows, cols), T, tt, r, want[tt*rows+r], exact, quantBound(m, r, xt))
						}
					}
				}
				// Every set gives exactly the same numbers.
				for _, im := range simdSets(t) {
					checkMatMul(t, im, m, x, T, 0)
				}
			}
		}
	}
}

// withIntegerPrefill runs f with SetIntegerPrefill(on).
func withIntegerPrefill(on bool, f func()) {
	prev := IntegerPrefill()
	SetIntegerPrefill(on)
	defer SetIntegerPrefill(prev)
	f()
}

// TestMatMulQuantExact: with the integer path off, quantized products are
// float products of the dequantized weights, within 1e-5 of generic and of
// MatVec.
func TestMatMulQuantExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	withIntegerPrefill(false, func() {
		for _, dt := range quantTypes {
			for _, cols := range []int{32, 96, 320, 1024} {
				for _, T := range []int{2, 3, 7, 40} {
					rows := 1 + (cols/32+T)%9
					m := newTestMat(t, dt, rows, cols, randWeights(rng, dt, rows, cols), T%4)
					x := randVec(rng, T*cols)
					for _, im := range simdSets(t) {
						checkMatMul(t, im, m, x, T, 1e-5)
						got := runMatMul(im, m, x, T)
						for tt := 0; tt < T; tt++ {
							xt := x[tt*cols : (tt+1)*cols]
							mv := make([]float32, rows)
							im.MatVec(m, xt, mv, 0, rows)
							for r := range mv {
								if !closeRel(got[tt*rows+r], mv[r], absDot(m, r, xt), 1e-5) {
									t.Fatalf("%s T=%d token %d row %d: MatMul %v MatVec %v", describe(im, dt, rows, cols), T, tt, r, got[tt*rows+r], mv[r])
								}
							}
						}
					}
				}
			}
		}
	})
}

// TestMatMulNaNInf: non-finite activations propagate like in the generic
// set (same class for float weights; non-finite for the integer path).
func TestMatMulNaNInf(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, im := range simdSets(t) {
		for _, dt := range allTypes {
			for _, cols := range []int{13, 64, 96, 250} {
				if dt.Quantized() && cols%32 != 0 {
					continue
				}
				rows, T := 6, 5
				m := newTestMat(t, dt, rows, cols, randWeights(rng, dt, rows, cols), 0)
				for _, bad := range []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())} {
					x := randVec(rng, T*cols)
					x[rng.IntN(T*cols)] = bad
					got, want := runMatMul(im, m, x, T), runMatMul(Generic(), m, x, T)
					for i := range got {
						if !sameNonFinite(dt, got[i], want[i]) {
							t.Fatalf("%s x has %v: y[%d] got %v want %v", describe(im, dt, rows, cols), bad, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestQuantizeActs: every set quantizes activations exactly as
// quantizeActsGo does (the integer path's results depend on it).
func TestQuantizeActs(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, im := range simdSets(t) {
		for _, T := range []int{1, 2, 7, 8, 9, 16, 21} {
			for _, cols := range []int{32, 64, 96, 320} {
				x := randVec(rng, T*cols)
				for i := range x {
					switch rng.IntN(50) {
					case 0:
						x[i] = 0
					case 1:
						x[i] *= 1e-30
					case 2:
						x[i] = float32(math.Inf(1 - 2*rng.IntN(2)))
					case 3:
						x[i] = float32(math.NaN())
					}
				}
				if T > 1 { // one all-zero block
					clear(x[cols : cols+32])
				}
				var a, b qActs
				a.reset(T, cols)
				b.reset(T, cols)
				for i := range a.buf {
					a.buf[i], b.buf[i] = 0xaa, 0x55
				}
				quantizeActsGo(&a, x, 0, a.no)
				im.QuantizeActs(&b, x, 0, b.no)
				if !bytes.Equal(a.buf, b.buf) {
					for i := range a.buf {
						if a.buf[i] != b.buf[i] {
							t.Fatalf("%s T=%d cols=%d: byte %d (octet-block %d offset %d) go %#x set %#x", im.Name, T, cols, i, i/qaBlockBytes, i%qaBlockBytes, a.buf[i], b.buf[i])
						}
					}
				}
			}
		}
	}
}
