package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

func TestDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, im := range simdSets(t) {
		for n := 0; n <= 300; n++ {
			for off := 0; off < 4; off++ {
				a := offsetVec(randVec(rng, n), off)
				b := offsetVec(randVec(rng, n), (off+1)%4)
				got, want := im.Dot(a, b), Generic().Dot(a, b)
				var scale float64
				for i := range a {
					scale += math.Abs(float64(a[i] * b[i]))
				}
				if !closeRel(got, want, scale, 1e-5) {
					t.Fatalf("%s Dot n=%d off=%d: got %v want %v", im.Name, n, off, got, want)
				}
			}
		}
		// NaN and Inf propagate.
		for n := 1; n <= 40; n++ {
			a, b := randVec(rng, n), randVec(rng, n)
			a[rng.IntN(n)] = float32(math.Inf(1))
			got, want := im.Dot(a, b), Generic().Dot(a, b)
			if !closeRel(got, want, 1, 1e-5) {
				t.Fatalf("%s Dot with Inf n=%d: got %v want %v", im.Name, n, got, want)
			}
			a[rng.IntN(n)] = float32(math.NaN())
			if got := im.Dot(a, b); !math.IsNaN(float64(got)) {
				t.Fatalf("%s Dot with NaN n=%d: got %v", im.Name, n, got)
			}
		}
	}
}

// checkMatVec compares one set's MatVec with the generic one on m and x.
func checkMatVec(t *testing.T, im *Impl, m *Mat, x []float32, tol float64) {
	t.Helper()
	got := make([]float32, m.Rows)
	want := make([]float32, m.Rows)
	im.MatVec(m, x, got, 0, m.Rows)
	Generic().MatVec(m, x, want, 0, m.Rows)
	for r := range got {
		if !closeRel(got[r], want[r], absDot(m, r, x), tol) {
			t.Fatalf("%s row %d: got %v want %v (Σ|wx| %g)", describe(im, m.DType, m.Rows, m.Cols), r, got[r], want[r], absDot(m, r, x))
		}
	}
}

func TestMatVecFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	maxCols := 300
	if testing.Short() {
		maxCols = 80
	}
	for _, im := range simdSets(t) {
		for _, dt := range floatTypes {
			for cols := 1; cols <= maxCols; cols++ {
				rows := 1 + cols%9
				off := cols % 4
				esz := 4
				if dt != tensor.F32 {
					esz = 2
				}
				m := newTestMat(t, dt, rows, cols, randWeights(rng, dt, rows, cols), off*esz)
				x := offsetVec(randVec(rng, cols), (off+1)%4)
				checkMatVec(t, im, m, x, 1e-5)
			}
			for rows := 1; rows <= 9; rows++ {
				cols := 64 + rows*8 + rows%3
				m := newTestMat(t, dt, rows, cols, randWeights(rng, dt, rows, cols), 0)
				checkMatVec(t, im, m, randVec(rng, cols), 1e-5)
			}
		}
	}
}

func TestMatVecQuant(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, im := range simdSets(t) {
		for _, dt := range quantTypes {
			for cols := 32; cols <= 320; cols += 32 {
				for rows := 1; rows <= 9; rows++ {
					off := (rows + cols/32) % 4
					m := newTestMat(t, dt, rows, cols, randWeights(rng, dt, rows, cols), off)
					x := offsetVec(randVec(rng, cols), off)
					checkMatVec(t, im, m, x, 1e-5)
				}
			}
		}
	}
}

func TestMatVecNaNInf(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, im := range simdSets(t) {
		for _, dt := range append(append([]tensor.DType{}, floatTypes...), quantTypes...) {
			for _, cols := range []int{5, 32, 64, 96, 250} {
				if dt.Quantized() && cols%32 != 0 {
					continue
				}
				rows := 6
				m := newTestMat(t, dt, rows, cols, randWeights(rng, dt, rows, cols), 0)
				for _, bad := range []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())} {
					x := randVec(rng, cols)
					x[rng.IntN(cols)] = bad
					got := make([]float32, rows)
					want := make([]float32, rows)
					im.MatVec(m, x, got, 0, rows)
					Generic().MatVec(m, x, want, 0, rows)
					for r := range got {
						if !sameNonFinite(dt, got[r], want[r]) {
							g, w := got[r], want[r]
							t.Fatalf("%s x has %v: row %d got %v want %v", describe(im, dt, rows, cols), bad, r, g, w)
						}
					}
				}
			}
		}
	}
}

// sameNonFinite checks NaN/Inf propagation: float paths must give the same
// class (NaN, +Inf, −Inf, finite); quantized paths fold offsets into
// x-sums, so there a non-finite result need only stay non-finite.
func sameNonFinite(dt tensor.DType, got, want float32) bool {
	g, w := float64(got), float64(want)
	if dt.Quantized() {
		return (math.IsNaN(g) || math.IsInf(g, 0)) == (math.IsNaN(w) || math.IsInf(w, 0))
	}
	if math.IsNaN(w) || math.IsNaN(g) {
		return math.IsNaN(w) == math.IsNaN(g)
	}
	if math.IsInf(w, 0) || math.IsInf(g, 0) {
		return g == w
	}
	return true
}

func TestSets(t *testing.T) {
	for _, n := range Names() {
		im := Get(n)
		if im == nil || im.Name != n || im.Why == "" {
			t.Fatalf("set %q: %+v", n, im)
		}
		if im.MatVec == nil || im.MatMul == nil || im.MatMulQ == nil || im.QuantizeActs == nil || im.Dot == nil || im.WKV5 == nil || im.WKV7 == nil || im.Exp == nil || im.Sigmoid == nil {
			t.Fatalf("set %q has a nil kernel", n)
		}
		t.Logf("%s: %s", n, im.Why)
	}
	if Generic().Name != "generic" {
		t.Fatalf("last set is %q", Generic().Name)
	}
	prev := Active()
	defer func() { active = prev }()
	if err := Use("generic"); err != nil || Active() != Generic() {
		t.Fatalf("Use(generic): %v", err)
	}
	if err := Use("no-such-set"); err == nil {
		t.Fatal("Use accepted an unknown set")
	}
	if err := Use("auto"); err != nil || Active() != Get(Names()[0]) {
		t.Fatalf("Use(auto): %v", err)
	}
}

// TestFMALoop: every set's FMA probe runs and counts its FLOPs.
func TestFMALoop(t *testing.T) {
	for _, n := range Names() {
		im := Get(n)
		if f0, f := im.FMALoop(0), im.FMALoop(1000); f0 != 0 || f < 16000 || f%1000 != 0 {
			t.Errorf("%s: FMALoop(0) = %d, FMALoop(1000) = %d FLOPs", n, f0, f)
		}
	}
}
