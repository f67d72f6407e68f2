//go:build amd64 && !purego

package kernels

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// TestSpeedKQuantParts prints best-of-N figures of the k-quant kernels on
// data that stays in L1/L2 (the machine is shared; the minimum is the
// figure least disturbed by other load): ns per super-block row.
func TestSpeedKQuantParts(t *testing.T) {
	if os.Getenv("RWKV_SPEED") == "" {
		t.Skip("set RWKV_SPEED=1")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	cols := 2048
	nb := cols / 256
	x := randVec(rng, cols)
	dst := make([]float32, cols)
	xs := make([]float32, 8*nb)
	kxsums(&x[0], nb, &xs[0])
	for _, dt := range kTypes {
		m, _ := NewMat(dt, 4, cols, randWeights(rng, dt, 4, cols))
		var out [4]float32
		best := time.Hour
		for i := 0; i < 2000; i++ {
			t0 := time.Now()
			for j := 0; j < 10; j++ {
				switch dt {
				case kTypes[0]:
					mvQ4Kx4(&m.Data[0], m.RowBytes, &x[0], nb, &out, &xs[0])
				case kTypes[1]:
					mvQ5Kx4(&m.Data[0], m.RowBytes, &x[0], nb, &out, &xs[0])
				default:
					mvQ6Kx4(&m.Data[0], m.RowBytes, &x[0], nb, &out, &xs[0])
				}
			}
			best = min(best, time.Since(t0))
		}
		perRow := float64(best.Nanoseconds()) / 10 / float64(4*nb)
		t.Logf("mv%sx4: %.2f ns/block-row, %.1f GB/s", dt, perRow, float64(dt.BlockBytes())/perRow)
		best = time.Hour
		for i := 0; i < 2000; i++ {
			t0 := time.Now()
			for j := 0; j < 10; j++ {
				dequantRowKAsm(m, 0, dst)
			}
			best = min(best, time.Since(t0))
		}
		dqAsm := float64(best.Nanoseconds()) / 10 / float64(nb)
		best = time.Hour
		for i := 0; i < 200; i++ {
			t0 := time.Now()
			dequantRow(m, 0, dst)
			best = min(best, time.Since(t0))
		}
		t.Logf("dequantize %s row: asm %.2f ns/block, generic %.2f ns/block", dt, dqAsm, float64(best.Nanoseconds())/float64(nb))
		best = time.Hour
		for i := 0; i < 200; i++ {
			t0 := time.Now()
			quantRowDot(dt, m.Row(0), x)
			best = min(best, time.Since(t0))
		}
		t.Logf("generic quantRowDot %s: %.2f ns/block-row, %.2f GB/s", dt, float64(best.Nanoseconds())/float64(nb), float64(dt.BlockBytes()*nb)/float64(best.Nanoseconds()))
	}
}
