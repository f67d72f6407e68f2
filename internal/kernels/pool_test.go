package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

func sameBits(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// TestThreadsIndependent checks that pools of 1, 2 and 3 workers give
// bit-identical products, for every set and type.
func TestThreadsIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	pools := []*Pool{NewPool(1), NewPool(2), NewPool(3)}
	for _, set := range append(Names(), "exact") {
		integer := set != "exact"
		if !integer {
			set = Names()[0]
		}
		withSet(set, func() {
			prev, prevD := IntegerPrefill(), IntegerDecode()
			SetIntegerPrefill(integer)
			SetIntegerDecode(integer)
			defer SetIntegerPrefill(prev)
			defer SetIntegerDecode(prevD)
			for _, dt := range allTypes {
				for _, shape := range [][2]int{{37, 96}, {64, 256}, {13, 320}} {
					rows, cols := shape[0], shape[1]
					m := newTestMat(t, dt, rows, cols, randWeights(rng, dt, rows, cols), 0)
					for _, T := range []int{1, 5, 19} {
						x := randVec(rng, T*cols)
						var ref []float32
						for i, p := range pools {
							y := make([]float32, T*rows)
							p.MatMul(m, x, T, y)
							if i == 0 {
								ref = y
								continue
							}
							if j := sameBits(ref, y); j >= 0 {
								t.Fatalf("%s %s %dx%d T=%d: %d threads differ from 1 at %d: %v vs %v", set, dt, rows, cols, T, p.Threads(), j, y[j], ref[j])
							}
						}
					}
				}
			}
		})
	}
}

// TestNoAllocs checks that products allocate nothing once the pool's
// buffers have grown.
func TestNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	p := NewPool(2)
	for _, set := range Names() {
		withSet(set, func() {
			for _, dt := range []tensor.DType{tensor.F32, tensor.F16, tensor.BF16, tensor.Q8_0, tensor.Q4_0, tensor.Q5_1} {
				rows, cols := 64, 256
				m := newTestMat(t, dt, rows, cols, randWeights(rng, dt, rows, cols), 0)
				x := randVec(rng, 8*cols)
				y := make([]float32, 8*rows)
				if n := testing.AllocsPerRun(20, func() { p.MatVec(m, x, y) }); n != 0 {
					t.Errorf("%s %s MatVec: %v allocations per call", set, dt, n)
				}
				if n := testing.AllocsPerRun(20, func() { p.MatMul(m, x, 8, y) }); n != 0 {
					t.Errorf("%s %s MatMul: %v allocations per call", set, dt, n)
				}
			}
		})
	}
}

type countTask struct{ hits []int32 }

func (c *countTask) Run(_, lo, hi int) {
	for i := lo; i < hi; i++ {
		c.hits[i]++
	}
}

// TestPoolCalls checks that every index is run exactly once per call, with
// back-to-back calls and with pauses between them.
func TestPoolCalls(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	for _, n := range []int{1, 2, 3, 5} {
		p := NewPool(n)
		for call := 0; call < 400; call++ {
			total := rng.IntN(300)
			align := 1 + rng.IntN(5)
			c := &countTask{hits: make([]int32, total)}
			p.Parallel(total, align, c)
			for i, h := range c.hits {
				if h != 1 {
					t.Fatalf("pool %d call %d: index %d of %d run %d times", n, call, i, total, h)
				}
			}
			if call%50 == 49 {
				time.Sleep(time.Millisecond)
			}
		}
	}
}

type nopTask struct{}

func (nopTask) Run(_, _, _ int) {}

func BenchmarkPoolDispatch(b *testing.B) {
	for _, n := range []int{1, 2} {
		p := NewPool(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				p.Parallel(64, 4, nopTask{})
			}
		})
	}
}

// TestMatVecs: a batch gives each product's MatVec result bit for bit, for
// mixed types and shapes (rows not multiples of 4; enough work to be
// split; two products of one x), with 1 to 8 workers, and allocates
// nothing.
func TestMatVecs(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	shapes := []struct {
		dt         tensor.DType
		rows, cols int
	}{{tensor.Q8_0, 70, 1024}, {tensor.F16, 33, 256}, {tensor.Q4_0, 129, 2048}, {tensor.F32, 5, 64}, {tensor.Q5_1, 64, 96}, {tensor.Q4_K, 40, 256}, {tensor.BF16, 1, 32}}
	var jobs []MatVecJob
	var want [][]float32
	for _, sh := range shapes {
		m, err := NewMat(sh.dt, sh.rows, sh.cols, randWeights(rng, sh.dt, sh.rows, sh.cols))
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, MatVecJob{M: m, X: randVec(rng, sh.cols), Y: make([]float32, sh.rows)})
		want = append(want, nil)
	}
	// A product reading the same x as an earlier one shares its quantization.
	m, err := NewMat(tensor.Q5_0, 24, 2048, randWeights(rng, tensor.Q5_0, 24, 2048))
	if err != nil {
		t.Fatal(err)
	}
	jobs = append(jobs, MatVecJob{M: m, X: jobs[2].X, Y: make([]float32, 24)})
	want = append(want, nil)
	for _, set := range Names() {
		withSet(set, func() {
			for j, jb := range jobs {
				want[j] = make([]float32, jb.M.Rows)
				NewPool(1).MatVec(jb.M, jb.X, want[j])
			}
			// The split is by weight, so more workers cut the jobs at
			// more places; each row must still be computed, once, as
			// MatVec computes it.
			for _, n := range []int{1, 2, 3, 5, 8} {
				p := NewPool(n)
				for _, jb := range jobs {
					clear(jb.Y)
				}
				p.MatVecs(jobs)
				for j, jb := range jobs {
					if i := sameBits(jb.Y, want[j]); i >= 0 {
						t.Fatalf("%s %d workers: job %d (%v %d×%d) row %d: %v, MatVec %v", set, n, j, jb.M.DType, jb.M.Rows, jb.M.Cols, i, jb.Y[i], want[j][i])
					}
				}
				if a := testing.AllocsPerRun(10, func() { p.MatVecs(jobs) }); a != 0 {
					t.Fatalf("%s %d workers: %v allocations per MatVecs", set, n, a)
				}
			}
		})
	}
}

// TestMatVecStreams: a MatVec over a long range (read as four streams per
// call) equals row-by-row calls bit for bit, for every set and type, on
// row counts around the stream split.
func TestMatVecStreams(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	for _, dt := range append(append(append([]tensor.DType{}, floatTypes...), quantTypes...), kTypes...) {
		cols := 256
		if !dt.Quantized() {
			cols = 259 // and a column tail, added after the grouped kernel
		}
		for _, rows := range []int{63, 64, 67, 130, 257} {
			m, err := NewMat(dt, rows, cols, randWeights(rng, dt, rows, cols))
			if err != nil {
				t.Fatal(err)
			}
			x := randVec(rng, cols)
			for _, name := range Names() {
				im := Get(name)
				for _, integer := range []bool{false, true} {
					withIntegerDecode(integer, func() {
						want, got := make([]float32, rows), make([]float32, rows)
						for r := 0; r < rows; r++ {
							matVecRange(im, m, x, want, r, r+1)
						}
						for _, lo := range []int{0, 3} {
							clear(got)
							matVecRange(im, m, x, got, lo, rows)
							if i := sameBits(got[lo:], want[lo:]); i >= 0 {
								t.Fatalf("%s %v %d×%d integer=%v rows [%d, %d): row %d = %v, row by row %v", name, dt, rows, cols, integer, lo, rows, lo+i, got[lo+i], want[lo+i])
							}
						}
					})
				}
			}
		}
	}
}

// matVecRange runs im's decode product over rows [lo, hi) on the caller:
// the integer path where it applies, else the float one.
func matVecRange(im *Impl, m *Mat, x, y []float32, lo, hi int) {
	if im.decodesInt(m) {
		v := new(qVec)
		v.reset(m.Cols)
		im.QuantizeVec(v, x)
		im.MatVecQ(m, v, y, lo, hi)
		return
	}
	im.MatVec(m, x, y, lo, hi)
}

// withIntegerDecode runs f with SetIntegerDecode(on).
func withIntegerDecode(on bool, f func()) {
	prev := integerDecode.Load()
	SetIntegerDecode(on)
	defer SetIntegerDecode(prev)
	f()
}

// TestPoolWakeRace hands off jobs at the moment the worker gives up polling
// and goes to sleep, the window where a wake-up could be lost; each
// hand-off must finish.
func TestPoolWakeRace(t *testing.T) {
	p := NewPool(2)
	var c nopTask
	// How long an idle worker polls before it sleeps, on this machine.
	var spin time.Duration
	for k := 0; k < 10; k++ {
		p.Parallel(2, 1, c)
		t0 := time.Now()
		for !p.sleeping[1].Load() {
			if time.Since(t0) > 5*time.Second {
				t.Fatal("idle worker never went to sleep")
			}
		}
		spin += time.Since(t0)
	}
	spin /= 10
	budget := 2 * time.Second
	if testing.Short() {
		budget = 300 * time.Millisecond
	}
	rng := rand.New(rand.NewPCG(41, 42))
	done := make(chan struct{}, 1)
	n := 0
	for end := time.Now().Add(budget); time.Now().Before(end); n++ {
		go func() { p.Parallel(2, 1, c); done <- struct{}{} }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("hand-off %d never finished (idle poll %v)", n, spin)
		}
		// Wait 0.8–1.2 times the polling time before the next job.
		d := time.Duration(float64(spin) * (0.8 + 0.4*rng.Float64()))
		for t0 := time.Now(); time.Since(t0) < d; {
		}
	}
	if n < 10 {
		t.Fatalf("only %d hand-offs in %v", n, budget)
	}
}
