package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestActivations(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	specials := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 88, 88.7, 88.73, 89, 100, -87, -87.4, -100, -103.9, -104, -200,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-30, -1e-30, 0.5, -0.5, 20, -20}
	check := func(name string, got, want []float32) {
		t.Helper()
		for i := range want {
			g, w := float64(got[i]), float64(want[i])
			switch {
			case math.IsNaN(w):
				if !math.IsNaN(g) {
					t.Fatalf("%s[%d]: got %v want NaN", name, i, g)
				}
			case math.IsInf(w, 0):
				if g != w {
					t.Fatalf("%s[%d]: got %v want %v", name, i, g, w)
				}
			case math.Abs(g-w) > 2e-6*math.Abs(w)+1e-38:
				t.Fatalf("%s[%d]: got %v want %v (rel %.3g)", name, i, g, w, math.Abs(g-w)/math.Abs(w))
			}
		}
	}
	for _, im := range simdSets(t) {
		for n := 0; n <= 70; n++ {
			x := make([]float32, n)
			for i := range x {
				switch rng.IntN(4) {
				case 0:
					x[i] = specials[rng.IntN(len(specials))]
				case 1:
					x[i] = float32(rng.NormFloat64() * 30)
				default:
					x[i] = float32(rng.NormFloat64() * 3)
				}
			}
			x = offsetVec(x, n%4)
			want, got := make([]float32, n), make([]float32, n)
			Generic().Exp(want, x)
			im.Exp(got, x)
			check(im.Name+" Exp", got, want)
			Generic().Sigmoid(want, x)
			im.Sigmoid(got, x)
			check(im.Name+" Sigmoid", got, want)
			// in place
			y := clone(x)
			im.Sigmoid(y, y)
			check(im.Name+" Sigmoid in place", y, want)
			// ReluSq is exact: the same bits as the generic twin.
			copy(want, x)
			Generic().ReluSq(want)
			y = clone(x)
			im.ReluSq(y)
			if i := sameBits(y, want); i >= 0 {
				t.Fatalf("%s ReluSq(%v) = %v, want %v", im.Name, x[i], y[i], want[i])
			}
		}
		// every float32 exponent range, densely
		x := make([]float32, 0, 4096)
		for v := -105.0; v <= 90; v += 0.0477 {
			x = append(x, float32(v))
		}
		want, got := make([]float32, len(x)), make([]float32, len(x))
		Generic().Exp(want, x)
		im.Exp(got, x)
		check(im.Name+" Exp range", got, want)
	}
}
