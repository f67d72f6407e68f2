package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

type wkvCase struct {
	H, N                         int
	r, k, v, w, u, dec, kk, b, S []float32
}

func newWKVCase(rng *rand.Rand, H, N int) *wkvCase {
	c := &wkvCase{H: H, N: N}
	C := H * N
	c.r, c.k, c.v = randVec(rng, C), randVec(rng, C), randVec(rng, C)
	c.w, c.u, c.dec = make([]float32, C), randVec(rng, C), make([]float32, C)
	for i := range c.w {
		c.w[i] = float32(math.Exp(-math.Exp(rng.NormFloat64() - 1)))
		c.dec[i] = float32(math.Exp(-0.606531 * (1 / (1 + math.Exp(-rng.NormFloat64())))))
	}
	c.kk = randVec(rng, C)
	// kk is L2-normalised per head in v7; b = kk ⊙ a with a in (0, 1).
	for h := 0; h < H; h++ {
		var n float64
		for _, v := range c.kk[h*N : (h+1)*N] {
			n += float64(v) * float64(v)
		}
		for i := h * N; i < (h+1)*N; i++ {
			c.kk[i] /= float32(math.Sqrt(n) + 1e-12)
		}
	}
	c.b = make([]float32, C)
	for i := range c.b {
		c.b[i] = c.kk[i] * float32(rng.Float64())
	}
	c.S = randVec(rng, H*N*N)
	return c
}

func clone(v []float32) []float32 { return append([]float32(nil), v...) }

// checkClose compares float slices with a tolerance relative to scale[i].
func checkClose(t *testing.T, what string, got, want []float32, scale func(i int) float64, tol float64) {
	t.Helper()
	for i := range want {
		if !closeRel(got[i], want[i], scale(i)+1e-6, tol) {
			t.Fatalf("%s[%d]: got %v want %v", what, i, got[i], want[i])
		}
	}
}

func TestWKV(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, im := range simdSets(t) {
		for _, N := range []int{1, 3, 8, 16, 24, 32, 64, 80} {
			for _, H := range []int{1, 2, 3} {
				c := newWKVCase(rng, H, N)
				for step := 0; step < 3; step++ {
					// v5/v6
					S1, S2 := clone(c.S), clone(c.S)
					y1, y2 := make([]float32, H*N), make([]float32, H*N)
					im.WKV5(H, N, c.r, c.k, c.v, c.w, c.u, S1, y1)
					Generic().WKV5(H, N, c.r, c.k, c.v, c.w, c.u, S2, y2)
					checkClose(t, im.Name+" WKV5 y", y1, y2, func(i int) float64 {
						h, j := i/N, i%N
						var s float64
						for k := 0; k < N; k++ {
							o := h*N + k
							s += math.Abs(float64(c.r[o])) * (math.Abs(float64(c.S[o*N+j])) + math.Abs(float64(c.u[o]*c.k[o]*c.v[h*N+j])))
						}
						return s
					}, 1e-5)
					checkClose(t, im.Name+" WKV5 S", S1, S2, func(i int) float64 { return math.Abs(float64(c.S[i])) + 10 }, 1e-6)
					// v7
					S1, S2 = clone(c.S), clone(c.S)
					im.WKV7(H, N, c.r, c.dec, c.k, c.v, c.kk, c.b, S1, y1)
					Generic().WKV7(H, N, c.r, c.dec, c.k, c.v, c.kk, c.b, S2, y2)
					checkClose(t, im.Name+" WKV7 S", S1, S2, func(i int) float64 {
						row := i / N
						var s float64
						for j := 0; j < N; j++ {
							s += math.Abs(float64(c.S[row*N+j] * c.kk[(row/N)*N+j]))
						}
						return s + math.Abs(float64(c.S[i])) + 1
					}, 1e-5)
					checkClose(t, im.Name+" WKV7 y", y1, y2, func(i int) float64 {
						h := i / N
						var s float64
						for j := 0; j < N; j++ {
							s += math.Abs(float64(S2[i*N+j] * c.r[h*N+j]))
						}
						return s * 2
					}, 1e-5)
					c.S = S2
					for i := range c.r {
						c.r[i], c.k[i], c.v[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.NormFloat64())
					}
				}
			}
		}
	}
}

// TestWKVSeq: the pool's head-split sequence equals the token-by-token
// calls of the active set bit for bit, for v5 (one w), v6 (w per token)
// and v7, whatever the head count (large enough to be split).
func TestWKVSeq(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	for _, name := range Names() {
		withSet(name, func() {
			im := Active()
			for _, H := range []int{1, 3, 16} {
				N, T := 64, 5
				A := H * N
				c := newWKVCase(rng, H, N)
				r, k, v := randVec(rng, T*A), randVec(rng, T*A), randVec(rng, T*A)
				w, dec, kk, b := make([]float32, T*A), make([]float32, T*A), make([]float32, T*A), make([]float32, T*A)
				for tt := 0; tt < T; tt++ {
					copy(w[tt*A:], c.w)
					copy(dec[tt*A:], c.dec)
					copy(kk[tt*A:], c.kk)
					copy(b[tt*A:], c.b)
				}
				w[A+1], dec[2*A+3] = 0.5, 0.25 // tokens differ
				for _, perToken := range []bool{false, true} {
					ww := c.w
					if perToken {
						ww = w
					}
					S, want := clone(c.S), make([]float32, T*A)
					for tt := 0; tt < T; tt++ {
						o := tt * A
						wt := ww[:A]
						if perToken {
							wt = ww[o : o+A]
						}
						im.WKV5(H, N, r[o:o+A], k[o:o+A], v[o:o+A], wt, c.u, S, want[o:o+A])
					}
					S2, got := clone(c.S), make([]float32, T*A)
					WKV5Seq(T, H, N, r, k, v, ww, c.u, S2, got)
					if sameBits(got, want) >= 0 || sameBits(S2, S) >= 0 {
						t.Fatalf("%s WKV5Seq H=%d per-token w=%v differs from the token loop", name, H, perToken)
					}
				}
				S, want := clone(c.S), make([]float32, T*A)
				for tt := 0; tt < T; tt++ {
					o := tt * A
					im.WKV7(H, N, r[o:o+A], dec[o:o+A], k[o:o+A], v[o:o+A], kk[o:o+A], b[o:o+A], S, want[o:o+A])
				}
				S2, got := clone(c.S), make([]float32, T*A)
				WKV7Seq(T, H, N, r, dec, k, v, kk, b, S2, got)
				if sameBits(got, want) >= 0 || sameBits(S2, S) >= 0 {
					t.Fatalf("%s WKV7Seq H=%d differs from the token loop", name, H)
				}
			}
		})
	}
}
