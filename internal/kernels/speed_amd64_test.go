//go:build amd64 && !purego

package kernels

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"
	"unsafe"

	"github.com/klauspost/cpuid/v2"
)

func TestSpeedKernelMM(t *testing.T) {
	if os.Getenv("RWKV_SPEED") == "" {
		t.Skip("set RWKV_SPEED=1")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{256, 1024, 2048, 8192} {
		w := randVec(rng, 4*n)
		x := randVec(rng, 3*n)
		var out [12]float32
		best := time.Hour
		for i := 0; i < 200; i++ {
			t0 := time.Now()
			for j := 0; j < 100; j++ {
				mmF32x4x3(&w[0], n*4, &x[0], &x[n], &x[2*n], n, &out)
			}
			best = min(best, time.Since(t0))
		}
		t.Logf("mmF32x4x3 n=%d: %.1f GFLOP/s", n, 2*12*float64(n)*100/best.Seconds()/1e9)
	}
}

func TestSpeedQuantParts(t *testing.T) {
	if os.Getenv("RWKV_SPEED") == "" {
		t.Skip("set RWKV_SPEED=1")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	cols, T := 2048, 512
	x := randVec(rng, T*cols)
	var a qActs
	a.reset(T, cols)
	best := time.Hour
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		quantizeActsAVX2(&a, x, 0, a.no)
		best = min(best, time.Since(t0))
	}
	t.Logf("quantizeActsAVX2 %d×%d: %v (%.2f ns/elem)", T, cols, best, float64(best.Nanoseconds())/float64(T*cols))
	for _, dt := range quantTypes {
		m, _ := NewMat(dt, 4, cols, randWeights(rng, dt, 4, cols))
		scratch := make([]byte, qScratchBytes(cols))
		y := make([]float32, T*4)
		best = time.Hour
		for i := 0; i < 50; i++ {
			t0 := time.Now()
			matMulQAVX2(m, &a, y, 4, 0, 4, scratch)
			best = min(best, time.Since(t0))
		}
		t.Logf("matMulQAVX2 %s 4 rows × %d×%d: %.1f GFLOP/s", dt, T, cols, 2*4*float64(T*cols)/best.Seconds()/1e9)
		if Get("avx512") != nil {
			best = time.Hour
			for i := 0; i < 50; i++ {
				t0 := time.Now()
				matMulQVNNI(m, &a, y, 4, 0, 4, scratch)
				best = min(best, time.Since(t0))
			}
			t.Logf("matMulQVNNI %s 4 rows × %d×%d: %.1f GFLOP/s", dt, T, cols, 2*4*float64(T*cols)/best.Seconds()/1e9)
		}
		nb := cols / 32
		best = time.Hour
		for i := 0; i < 50; i++ {
			t0 := time.Now()
			decodeTileAVX2(m, 0, 4, scratch, unsafe.Slice((*float32)(unsafe.Pointer(&scratch[nb*256])), 8*nb))
			best = min(best, time.Since(t0))
		}
		t.Logf("decodeTileAVX2 %s 4×%d: %v", dt, cols, best)
	}
}

// TestSpeedMVQ prints the integer decode kernels' best-of-N ns per
// block-row, avx2 against VNNI, on 128 rows that stay in L2.
func TestSpeedMVQ(t *testing.T) {
	if os.Getenv("RWKV_SPEED") == "" {
		t.Skip("set RWKV_SPEED=1")
	}
	vnni := cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512VL, cpuid.AVX512VNNI)
	rows, cols := 128, 2048
	rng := rand.New(rand.NewPCG(1, 2))
	v := quantVec(Generic(), randVec(rng, cols))
	for _, dt := range quantTypes {
		m, _ := NewMat(dt, rows, cols, randWeights(rng, dt, rows, cols))
		line := fmt.Sprintf("mvq %-5s %dx%d:", dt, rows, cols)
		for i, name := range []string{"avx2", "vnni"} {
			if i == 1 && !vnni {
				continue
			}
			f := mvqKernels[dt][i]
			best := time.Hour
			for j := 0; j < 3000; j++ {
				t0 := time.Now()
				runMVQ(f, m, v)
				best = min(best, time.Since(t0))
			}
			line += fmt.Sprintf("  %s %5.3f ns/block-row", name, float64(best.Nanoseconds())/float64(rows*v.nb))
		}
		t.Log(line)
	}
}

// TestSpeedMVQMemory prints the integer decode's best-of-N GB/s from
// memory with one and two threads, for each set (RWKV_DT picks one type).
func TestSpeedMVQMemory(t *testing.T) {
	if os.Getenv("RWKV_SPEED") == "" {
		t.Skip("set RWKV_SPEED=1")
	}
	for _, threads := range []int{1, 2} {
		p := NewPool(threads)
		for _, shape := range [][2]int{{2048, 2048}, {8192, 2048}, {2048, 8192}} {
			for _, dt := range quantTypes {
				if os.Getenv("RWKV_DT") != "" && os.Getenv("RWKV_DT") != dt.String() {
					continue
				}
				ms := benchMats(t, dt, shape[0], shape[1])
				x := randVec(rand.New(rand.NewPCG(1, 1)), shape[1])
				y := make([]float32, shape[0])
				line := fmt.Sprintf("matvec %-5s %dx%d threads=%d:", dt, shape[0], shape[1], threads)
				for _, set := range Names() {
					if set == "generic" {
						continue
					}
					withSet(set, func() {
						best := time.Hour
						for i := 0; i < 5*len(ms); i++ {
							t0 := time.Now()
							p.MatVec(ms[i%len(ms)], x, y)
							best = min(best, time.Since(t0))
						}
						line += fmt.Sprintf("  %s %6.1f GB/s", set, float64(ms[0].Bytes())/best.Seconds()/1e9)
					})
				}
				t.Log(line)
			}
		}
	}
}
