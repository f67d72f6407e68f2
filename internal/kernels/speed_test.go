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
