package kernels

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// TestSpeed prints best-of-N throughput (the machine is shared, so the
// minimum is the figure least disturbed by other load). Run with
// RWKV_SPEED=1 go test -run TestSpeed -v ./internal/kernels/.
func TestSpeed(t *testing.T) {
	if os.Getenv("RWKV_SPEED") == "" {
		t.Skip("set RWKV_SPEED=1")
	}
	rows, cols := 8192, 2048
	for _, threads := range []int{1, 2} {
		p := NewPool(threads)
		for _, dt := range allTypes {
			ms := benchMats(t, dt, rows, cols)
			x := randVec(rand.New(rand.NewPCG(1, 1)), cols)
			y := make([]float32, rows)
			line := fmt.Sprintf("matvec %-5s %dx%d threads=%d:", dt, rows, cols, threads)
			for _, set := range Names() {
				withSet(set, func() {
					best := time.Hour
					for i := 0; i < 3*len(ms); i++ {
						t0 := time.Now()
						p.MatVec(ms[i%len(ms)], x, y)
						if d := time.Since(t0); d < best {
							best = d
						}
					}
					line += fmt.Sprintf("  %s %6.1f GB/s", set, float64(ms[0].Bytes())/best.Seconds()/1e9)
				})
			}
			t.Log(line)
		}
	}
}

// TestSpeedCompute is TestSpeed on a matrix that stays in L2: the kernels'
// arithmetic throughput without the memory.
func TestSpeedCompute(t *testing.T) {
	if os.Getenv("RWKV_SPEED") == "" {
		t.Skip("set RWKV_SPEED=1")
	}
	rows, cols := 128, 2048
	p := NewPool(1)
	for _, dt := range allTypes {
		rng := rand.New(rand.NewPCG(9, uint64(dt)))
		m, _ := NewMat(dt, rows, cols, randWeights(rng, dt, rows, cols))
		x := randVec(rng, cols)
		y := make([]float32, rows)
		line := fmt.Sprintf("matvec-L2 %-5s %dx%d:", dt, rows, cols)
		for _, set := range Names() {
			withSet(set, func() {
				best := time.Hour
				for i := 0; i < 2000; i++ {
					t0 := time.Now()
					p.MatVec(m, x, y)
					if d := time.Since(t0); d < best {
						best = d
					}
				}
				line += fmt.Sprintf("  %s %6.1f GB/s %5.2f ns/block-row", set, float64(m.Bytes())/best.Seconds()/1e9, float64(best.Nanoseconds())/float64(rows*cols/32))
			})
		}
		t.Log(line)
	}
}

func TestSpeedOne(t *testing.T) {
	if os.Getenv("RWKV_SPEED") == "" {
		t.Skip("set RWKV_SPEED=1")
	}
	for _, dt := range allTypes {
		if os.Getenv("RWKV_DT") != "" && os.Getenv("RWKV_DT") != dt.String() {
			continue
		}
		rows, cols := 8192, 2048
		if c := os.Getenv("RWKV_COLS"); c != "" {
			fmt.Sscan(c, &cols)
		}
		p := NewPool(1)
		ms := benchMats(t, dt, rows, cols)
		x := randVec(rand.New(rand.NewPCG(1, 1)), cols)
		y := make([]float32, rows)
		best := time.Hour
		var sum time.Duration
		for i := 0; i < 3*len(ms); i++ {
			t0 := time.Now()
			p.MatVec(ms[i%len(ms)], x, y)
			d := time.Since(t0)
			sum += d
			best = min(best, d)
		}
		t.Logf("%s best %.1f GB/s mean %.1f GB/s", dt, float64(ms[0].Bytes())/best.Seconds()/1e9, float64(ms[0].Bytes())*float64(3*len(ms))/sum.Seconds()/1e9)
	}
}

func TestSpeedMatMul(t *testing.T) {
	if os.Getenv("RWKV_SPEED") == "" {
		t.Skip("set RWKV_SPEED=1")
	}
	rows, cols := 2048, 2048
	if s := os.Getenv("RWKV_ROWS"); s != "" {
		fmt.Sscan(s, &rows)
	}
	if s := os.Getenv("RWKV_COLS"); s != "" {
		fmt.Sscan(s, &cols)
	}
	threads := 1
	if s := os.Getenv("RWKV_THREADS"); s != "" {
		fmt.Sscan(s, &threads)
	}
	p := NewPool(threads)
	if os.Getenv("RWKV_EXACT") != "" {
		SetIntegerPrefill(false)
		defer SetIntegerPrefill(true)
	}
	for _, dt := range allTypes {
		if os.Getenv("RWKV_DT") != "" && os.Getenv("RWKV_DT") != dt.String() {
			continue
		}
		rng := rand.New(rand.NewPCG(9, uint64(dt)))
		m, _ := NewMat(dt, rows, cols, randWeights(rng, dt, rows, cols))
		for _, T := range []int{64, 512} {
			x := randVec(rng, T*cols)
			y := make([]float32, T*rows)
			line := fmt.Sprintf("matmul %-5s %dx%d T=%d threads=%d:", dt, rows, cols, T, threads)
			for _, set := range Names() {
				withSet(set, func() {
					best := time.Hour
					n := 10 * 2048 / rows
					if set == "generic" {
						n = 1
					}
					for i := 0; i < n; i++ {
						t0 := time.Now()
						p.MatMul(m, x, T, y)
						best = min(best, time.Since(t0))
					}
					line += fmt.Sprintf("  %s %6.1f GFLOP/s", set, 2*float64(rows*cols*T)/best.Seconds()/1e9)
				})
			}
			t.Log(line)
		}
	}
}

// TestSpeedReport prints the benchmark table of the report (best of N,
// as the machine is shared): MatVec GB/s and MatMul GFLOP/s per type, set
// and thread count.
func TestSpeedReport(t *testing.T) {
	if os.Getenv("RWKV_SPEED") == "" {
		t.Skip("set RWKV_SPEED=1")
	}
	best := func(n int, f func()) time.Duration {
		b := time.Hour
		for i := 0; i < n; i++ {
			t0 := time.Now()
			f()
			b = min(b, time.Since(t0))
		}
		return b
	}
	pools := []*Pool{NewPool(1), NewPool(2)}
	fmt.Println("| type | shape | set | GB/s 1 thr | GB/s 2 thr |")
	fmt.Println("|---|---|---|---|---|")
	for _, dt := range allTypes {
		for _, shape := range [][2]int{{2048, 2048}, {8192, 2048}} {
			ms := benchMats(t, dt, shape[0], shape[1])
			x := randVec(rand.New(rand.NewPCG(1, 1)), shape[1])
			y := make([]float32, shape[0])
			for _, set := range Names() {
				line := fmt.Sprintf("| %s | %dx%d | %s |", dt, shape[0], shape[1], set)
				withSet(set, func() {
					for _, p := range pools {
						i := 0
						n := 3 * len(ms)
						if set == "generic" {
							n = len(ms)
						}
						d := best(n, func() { p.MatVec(ms[i%len(ms)], x, y); i++ })
						line += fmt.Sprintf(" %.1f |", float64(ms[0].Bytes())/d.Seconds()/1e9)
					}
				})
				fmt.Println(line)
			}
		}
	}
	fmt.Println()
	fmt.Println("| type | T | set | GFLOP/s 1 thr | GFLOP/s 2 thr |")
	fmt.Println("|---|---|---|---|---|")
	rows, cols := 2048, 2048
	for _, dt := range allTypes {
		rng := rand.New(rand.NewPCG(9, uint64(dt)))
		m, _ := NewMat(dt, rows, cols, randWeights(rng, dt, rows, cols))
		for _, T := range []int{64, 512} {
			x := randVec(rng, T*cols)
			y := make([]float32, T*rows)
			for _, set := range Names() {
				if set == "generic" && T > 64 {
					continue
				}
				line := fmt.Sprintf("| %s | %d | %s |", dt, T, set)
				withSet(set, func() {
					for _, p := range pools {
						n := 8
						if set == "generic" {
							n = 1
						}
						d := best(n, func() { p.MatMul(m, x, T, y) })
						line += fmt.Sprintf(" %.1f |", 2*float64(rows*cols*T)/d.Seconds()/1e9)
					}
				})
				fmt.Println(line)
			}
		}
	}
}
