//go:build amd64 && !purego

package kernels

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"
	"unsafe"
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
