package bench

import (
	"time"

	"github.com/rwkv-chat/rwkv-chat/internal/kernels"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// sumTask reads its share of a large buffer with the active Dot kernel.
type sumTask struct {
	buf  []float32
	sink [64]float32
}

func (t *sumTask) Run(w, lo, hi int) {
	t.sink[w%64] += kernels.Dot(t.buf[lo:hi], t.buf[lo:hi])
}

// Bandwidth measures the memory read bandwidth in bytes/s with all workers
// of the pool reading a buffer far larger than the caches (best of reps).
func Bandwidth(p *kernels.Pool, bytes int, reps int) float64 {
	buf := make([]float32, bytes/4)
	for i := range buf {
		buf[i] = float32(i & 7)
	}
	t := &sumTask{buf: buf}
	best := 0.0
	for r := 0; r < reps; r++ {
		start := time.Now()
		p.Parallel(len(buf), 4096, t)
		if bw := float64(len(buf)*4) / time.Since(start).Seconds(); bw > best {
			best = bw
		}
	}
	return best
}

// GEMMFlops measures fp32 matrix-matrix throughput in FLOP/s on weights
// that stay in cache (256×1024 F32, 64 tokens): the compute ceiling of
// prefill as our own kernels reach it.
func GEMMFlops(p *kernels.Pool, reps int) float64 {
	const rows, cols, T = 256, 1024, 64
	w := make([]float32, rows*cols)
	x := make([]float32, T*cols)
	for i := range w {
		w[i] = float32(i%13) * 0.01
	}
	for i := range x {
		x[i] = float32(i%7) * 0.01
	}
	m, _ := kernels.NewMat(tensor.F32, rows, cols, tensor.Float32Bytes(w))
	y := make([]float32, T*rows)
	best := 0.0
	for r := 0; r < reps; r++ {
		start := time.Now()
		const inner = 20
		for i := 0; i < inner; i++ {
			p.MatMul(m, x, T, y)
		}
		if f := 2 * rows * cols * T * inner / time.Since(start).Seconds(); f > best {
			best = f
		}
	}
	return best
}
