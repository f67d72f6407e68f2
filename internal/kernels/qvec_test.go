package kernels

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// qSets are the sets with an integer MatVec other than the reference.
func qSets(t testing.TB) []*Impl {
	var out []*Impl
	for _, im := range simdSets(t) {
		if im.MatVecQ != nil {
			out = append(out, im)
		}
	}
	return out
}

// quantVec quantizes x with im's QuantizeVec.
func quantVec(im *Impl, x []float32) *qVec {
	v := new(qVec)
	v.reset(len(x))
	im.QuantizeVec(v, x)
	return v
}

// qTermScale is Σ_b Σ_lanes |isum_lane·d_b·dx_b| + |c_b·sx_b| for row r:
// the scale of the float rounding in the integer path's sums. For the
// types with an offset (Q4_0, Q5_0) the lanes are also summed with the raw
// codes plus |off·d_b·sx_b|: the avx512 kernels take the offset as a float
// term (as Q4_1 takes m), so their rounding is relative to those terms.
func qTermScale(m *Mat, r int, v *qVec) float64 {
	qw := qWeightsOf(m.DType)
	bb := m.DType.BlockBytes()
	row := m.Row(r)
	var u [32]byte
	var s float64
	for b := 0; b < v.nb; b++ {
		d, c := decodeQBlock(m.DType, row[b*bb:(b+1)*bb], &u)
		// SIMD sets convert partial sums of four elements each.
		var lanes, raw float64
		for g := 0; g < 8; g++ {
			var is, ir int64
			for j := 4 * g; j < 4*g+4; j++ {
				wi := int64(u[j]) - int64(qw.off)
				if m.DType == tensor.Q8_0 {
					wi = int64(int8(u[j]))
				}
				is += wi * int64(int8(v.q[b*32+j]))
				ir += int64(u[j]) * int64(int8(v.q[b*32+j]))
			}
			lanes += math.Abs(float64(is))
			raw += math.Abs(float64(ir))
		}
		dd := math.Abs(float64(d) * float64(v.ds[2*b]))
		s += lanes*dd + math.Abs(float64(c)*float64(v.ds[2*b+1]))
		if qw.off != 0 && m.DType != tensor.Q8_0 {
			s += raw*dd + math.Abs(float64(qw.off)*float64(d)*float64(v.ds[2*b+1]))
		}
	}
	return s
}

func checkMatVecQ(t *testing.T, im *Impl, m *Mat, x []float32) {
	t.Helper()
	v := quantVec(Generic(), x)
	if vi := quantVec(im, x); string(vi.q) != string(v.q) || sameBits(vi.ds, v.ds) >= 0 || !slices.Equal(vi.sq, v.sq) {
		t.Fatalf("%s: QuantizeVec differs from the generic twin", describe(im, m.DType, m.Rows, m.Cols))
	}
	got := make([]float32, m.Rows)
	want := make([]float32, m.Rows)
	im.MatVecQ(m, v, got, 0, m.Rows)
	matVecQGeneric(m, v, want, 0, m.Rows)
	for r := range got {
		if sc := qTermScale(m, r, v); !closeRel(got[r], want[r], sc, 1e-5) {
			t.Fatalf("%s row %d: got %v want %v (scale %g)", describe(im, m.DType, m.Rows, m.Cols), r, got[r], want[r], sc)
		}
	}
}

// TestMatVecQ: every set's integer MatVec equals the generic twin for
// every block count 1…32 (and a few larger), rows 1…9, unaligned data.
func TestMatVecQ(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, im := range qSets(t) {
		for _, dt := range quantTypes {
			cols := []int{}
			for c := 32; c <= 1024; c += 32 {
				cols = append(cols, c)
			}
			cols = append(cols, 2048, 4096+32)
			for _, c := range cols {
				for rows := 1; rows <= 9; rows++ {
					if c > 1024 && rows > 5 {
						break
					}
					off := (rows + c/32) % 4
					m := newTestMat(t, dt, rows, c, randWeights(rng, dt, rows, c), off)
					checkMatVecQ(t, im, m, offsetVec(randVec(rng, c), 3-off))
				}
			}
		}
	}
}

// TestMatVecQIsPrefill: the generic integer MatVec gives, bit for bit, what
// the integer MatMul gives each token, and stays within the 8-bit
// activation error of the exact product.
func TestMatVecQIsPrefill(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, dt := range quantTypes {
		for _, cols := range []int{32, 96, 320} {
			rows, T := 7, 3
			m := newTestMat(t, dt, rows, cols, randWeights(rng, dt, rows, cols), 1)
			x := randVec(rng, T*cols)
			var pre []float32
			withIntegerPrefill(true, func() { pre = runMatMul(Generic(), m, x, T) })
			for tt := 0; tt < T; tt++ {
				xt := x[tt*cols : (tt+1)*cols]
				got := make([]float32, rows)
				matVecQGeneric(m, quantVec(Generic(), xt), got, 0, rows)
				for r := range got {
					if math.Float32bits(got[r]) != math.Float32bits(pre[tt*rows+r]) {
						t.Fatalf("%s token %d row %d: MatVecQ %v, MatMulQ %v", describe(Generic(), dt, rows, cols), tt, r, got[r], pre[tt*rows+r])
					}
					w := make([]float32, cols)
					_ = tensor.Dequantize(dt, m.Row(r), w)
					var exact float64
					for j := range w {
						exact += float64(w[j]) * float64(xt[j])
					}
					if d := math.Abs(float64(got[r]) - exact); d > quantBound(m, r, xt) {
						t.Fatalf("%s row %d: %v, exact %v, bound %v", describe(Generic(), dt, rows, cols), r, got[r], exact, quantBound(m, r, xt))
					}
				}
			}
		}
	}
}

// TestMatVecQNaNInf: a non-finite activation gives a non-finite result in
// every set, as in the generic twin.
func TestMatVecQNaNInf(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	for _, im := range append(qSets(t), Generic()) {
		for _, dt := range quantTypes {
			for _, cols := range []int{32, 64, 288} {
				rows := 6
				m := newTestMat(t, dt, rows, cols, randWeights(rng, dt, rows, cols), 0)
				for _, bad := range []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())} {
					x := randVec(rng, cols)
					x[rng.IntN(cols)] = bad
					v := quantVec(im, x)
					got := make([]float32, rows)
					im.MatVecQ(m, v, got, 0, rows)
					for r, g := range got {
						if !math.IsNaN(float64(g)) {
							t.Fatalf("%s x has %v: row %d got %v, want NaN", describe(im, dt, rows, cols), bad, r, g)
						}
					}
				}
			}
		}
	}
}

// TestPoolMatVecInteger: the pool's MatVec takes the integer path for
// quantized weights when SetIntegerDecode is on, the float path when off,
// and gives the same numbers for any thread count.
var testPools = map[int]*Pool{1: NewPool(1), 2: NewPool(2), 3: NewPool(3)}

func TestPoolMatVecInteger(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	rows, cols := 300, 1024 // enough work to be split across workers
	for _, dt := range quantTypes {
		m := newTestMat(t, dt, rows, cols, randWeights(rng, dt, rows, cols), 0)
		x := randVec(rng, cols)
		wantQ := make([]float32, rows)
		if active.MatVecQ != nil {
			active.MatVecQ(m, quantVec(active, x), wantQ, 0, rows)
		}
		wantF := make([]float32, rows)
		active.MatVec(m, x, wantF, 0, rows)
		for threads, p := range testPools {
			for _, on := range []bool{true, false} {
				prev := IntegerDecode()
				SetIntegerDecode(on)
				got := make([]float32, rows)
				p.MatVec(m, x, got)
				SetIntegerDecode(prev)
				want := wantF
				if on && active.MatVecQ != nil {
					want = wantQ
				}
				if sameBits(got, want) >= 0 {
					t.Fatalf("%s threads %d integer %v: pool result differs from the direct kernel", dt, threads, on)
				}
			}
		}
	}
}
