//go:build amd64 && !purego

package kernels

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/klauspost/cpuid/v2"
)

func needAVX512(t testing.TB) {
	if !cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512VL) {
		t.Skip("CPU lacks AVX-512")
	}
}

// mmZRef is the plain Go product of the 4×nt block: out[t·4+k] = Σ
// w[k·ws+c]·x[t][c] for c < n, in float64 (ws in floats).
func mmZRef(w []float32, ws int, x [][]float32, n int) []float64 {
	out := make([]float64, 4*len(x))
	for t, xt := range x {
		for k := 0; k < 4; k++ {
			var s float64
			for c := 0; c < n; c++ {
				s += float64(w[k*ws+c]) * float64(xt[c])
			}
			out[t*4+k] = s
		}
	}
	return out
}

// mmZRun calls the 4×6 kernel on rows w (stride ws floats) and the token
// rows x and returns its 24 sums. With all tokens and rows valid, the
// sums land in a y of 6 tokens × 4 rows.
func mmZRun(w []float32, ws int, x [][]float32, n int) []float32 {
	y := make([]float32, 24)
	mmF32x4x6z(&w[0], ws*4, &x[0][0], &x[1][0], &x[2][0], &x[3][0], &x[4][0], &x[5][0], n, &y[0], 16, 6, 15, 0)
	return y
}

// TestMMZKernel checks the zmm kernels for every column count up to 1024,
// with rows packed or strided, and pointers off 64-byte alignment.
func TestMMZKernel(t *testing.T) {
	needAVX512(t)
	rng := rand.New(rand.NewPCG(21, 22))
	{
		nt := 6
		for n := 8; n <= 1024; n += 8 {
			for _, layout := range []struct{ pad, off int }{{0, 0}, {8, 1}, {3, 5}} {
				ws := n + layout.pad
				w := randVec(rng, 4*ws+layout.off)[layout.off:]
				// The tokens are views into one buffer, each a different
				// offset, with guard values after the n columns.
				buf := randVec(rng, nt*(n+9)+layout.off)
				for i := range buf {
					if i%(n+9) >= n {
						buf[i] = float32(math.NaN()) // past n: never read
					}
				}
				x := make([][]float32, nt)
				for i := range x {
					x[i] = buf[layout.off+i*(n+9) : layout.off+i*(n+9)+n]
				}
				for i := 0; i < 4; i++ {
					for c := n; c < ws; c++ {
						w[i*ws+c] = float32(math.Inf(1))
					}
				}
				got := mmZRun(w, ws, x, n)
				want := mmZRef(w, ws, x, n)
				for i, g := range got {
					var scale float64
					for c := 0; c < n; c++ {
						scale += math.Abs(float64(w[(i%4)*ws+c]) * float64(x[i/4][c]))
					}
					if math.Abs(float64(g)-want[i]) > 1e-6*scale+1e-30 {
						t.Fatalf("4×%d n=%d pad=%d off=%d out[%d]: got %v want %v", nt, n, layout.pad, layout.off, i, g, want[i])
					}
				}
			}
		}
	}
}

// TestMMZKernelSpecials: a NaN or ±Inf in a row or token reaches exactly
// the outputs it is in, as in the plain sum.
func TestMMZKernelSpecials(t *testing.T) {
	needAVX512(t)
	rng := rand.New(rand.NewPCG(23, 24))
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	{
		nt := 6
		for _, n := range []int{8, 16, 24, 40, 520} {
			for trial := 0; trial < 30; trial++ {
				w := randVec(rng, 4*n)
				x := make([][]float32, nt)
				for i := range x {
					x[i] = randVec(rng, n)
				}
				for j := 0; j < 1+trial%3; j++ {
					v := specials[rng.IntN(len(specials))]
					if rng.IntN(2) == 0 {
						w[rng.IntN(4*n)] = v
					} else {
						x[rng.IntN(nt)][rng.IntN(n)] = v
					}
				}
				got := mmZRun(w, n, x, n)
				want := mmZRef(w, n, x, n)
				for i, g := range got {
					wi := want[i]
					switch {
					case math.IsNaN(wi):
						if g == g {
							t.Fatalf("4×%d n=%d out[%d]: got %v want NaN", nt, n, i, g)
						}
					case math.IsInf(wi, 0):
						if float64(g) != wi {
							t.Fatalf("4×%d n=%d out[%d]: got %v want %v", nt, n, i, g, wi)
						}
					case math.IsNaN(float64(g)) || math.IsInf(float64(g), 0):
						t.Fatalf("4×%d n=%d out[%d]: got %v want %v", nt, n, i, g, wi)
					}
				}
			}
		}
	}
}

// TestMMZKernelStores checks which parts of y the 4×6 kernel writes:
// tokens below nt, rows in the mask, adding to y when acc is set.
func TestMMZKernelStores(t *testing.T) {
	needAVX512(t)
	rng := rand.New(rand.NewPCG(25, 26))
	n := 24
	w := randVec(rng, 4*n)
	xs := randVec(rng, 6*n)
	x := [][]float32{xs[0:n], xs[n : 2*n], xs[2*n : 3*n], xs[3*n : 4*n], xs[4*n : 5*n], xs[5*n:]}
	full := mmZRun(w, n, x, n)
	const ys = 7 // floats between tokens in y
	for nt := 1; nt <= 6; nt++ {
		for rows := 0; rows < 16; rows++ {
			for acc := 0; acc < 2; acc++ {
				y := randVec(rng, 6*ys+4)
				old := append([]float32(nil), y...)
				mmF32x4x6z(&w[0], n*4, &x[0][0], &x[1][0], &x[2][0], &x[3][0], &x[4][0], &x[5][0], n, &y[1], ys*4, nt, rows, acc)
				for i := range y {
					want := old[i]
					tt, k := (i-1)/ys, (i-1)%ys
					if i >= 1 && tt < nt && k < 4 && rows>>k&1 != 0 {
						want = full[tt*4+k]
						if acc != 0 {
							want += old[i]
						}
					}
					if math.Float32bits(y[i]) != math.Float32bits(want) {
						t.Fatalf("nt=%d rows=%#x acc=%d y[%d]: got %v want %v", nt, rows, acc, i, y[i], want)
					}
				}
			}
		}
	}
}

// TestSpeedKernelMMZ reports the zmm kernel's rate on L1-resident data,
// next to the ymm 4×3 kernel.
func TestSpeedKernelMMZ(t *testing.T) {
	if os.Getenv("RWKV_SPEED") == "" {
		t.Skip("set RWKV_SPEED=1")
	}
	needAVX512(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{256, 512, 1024, 2048} {
		w := randVec(rng, 4*n)
		x := randVec(rng, 6*n)
		rate := func(nt int, f func()) float64 {
			best := time.Hour
			for i := 0; i < 200; i++ {
				t0 := time.Now()
				for j := 0; j < 100; j++ {
					f()
				}
				best = min(best, time.Since(t0))
			}
			return 2 * 4 * float64(nt*n) * 100 / best.Seconds() / 1e9
		}
		var o3 [12]float32
		var y [24]float32
		r3 := rate(3, func() { mmF32x4x3(&w[0], n*4, &x[0], &x[n], &x[2*n], n, &o3) })
		r6 := rate(6, func() {
			mmF32x4x6z(&w[0], n*4, &x[0], &x[n], &x[2*n], &x[3*n], &x[4*n], &x[5*n], n, &y[0], 16, 6, 15, 1)
		})
		t.Logf("n=%d GFLOP/s: 4×3 ymm %.1f, 4×6 zmm %.1f", n, r3, r6)
	}
}
