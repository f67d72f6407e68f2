package bench

import (
	"time"

	"github.com/rwkv-chat/rwkv-chat/internal/kernels"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// sumTask reads its share of a large buffer with the active Dot kernel, as
// streams interleaved sequences (4 KiB from each in turn): the hardware
// prefetchers follow several streams at once, and a matrix-vector product
// reads several rows at once, so one stream per core understates what the
// memory can deliver.
type sumTask struct {
	buf     []float32
	streams int
	sink    [64]float32
}

func (t *sumTask) Run(w, lo, hi int) {
	const piece = 1024 // floats
	n := (hi - lo) / t.streams
	var s float32
	for off := 0; off < n; off += piece {
		end := min(off+piece, n)
		for k := 0; k < t.streams; k++ {
			b := t.buf[lo+k*n+off : lo+k*n+end]
			s += kernels.Dot(b, b)
		}
	}
	t.sink[w%64] += s
}

// Bandwidth measures the memory read bandwidth in bytes/s with all workers
// of the pool reading a buffer far larger than the caches: the best of reps
// runs for each of 1, 2, 4 and 8 streams per worker, read piece by piece
// or (the F32 MatVec) all at once.
func Bandwidth(p *kernels.Pool, bytes int, reps int) float64 {
	return NewProber(p, bytes).Measure(reps)
}

// Prober measures the memory read bandwidth as Bandwidth does, keeping its
// buffer between measurements, so that it can be measured again next to
// each timed stretch of decoding: on a shared machine the bandwidth can
// change by half from one minute to the next, and a roofline fraction
// means something only against the bandwidth of the same moment.
type Prober struct {
	p   *kernels.Pool
	buf []float32
	m   *kernels.Mat
}

// NewProber sizes a probe of about bytes; the buffer is filled on first
// use.
func NewProber(p *kernels.Pool, bytes int) *Prober {
	return &Prober{p: p, buf: make([]float32, 0, max(bytes/4, 1))}
}

// Measure returns the best bandwidth in bytes/s over reps runs of each way
// of reading.
func (pr *Prober) Measure(reps int) float64 {
	p := pr.p
	if len(pr.buf) == 0 {
		unit := 8 * 4096 * p.Threads() // every split reads all of its range
		buf := pr.buf[:max(cap(pr.buf)/unit, 1)*unit]
		for i := range buf {
			buf[i] = float32(i & 7)
		}
		pr.buf = buf
		// And as an F32 matrix-vector product, whose four-row kernels
		// read four rows from each of four streams per worker at once.
		const cols = 1024
		if m, err := kernels.NewMat(tensor.F32, len(buf)/cols, cols, tensor.Float32Bytes(buf)); err == nil {
			pr.m = m
		}
	}
	buf := pr.buf
	best := 0.0
	for _, streams := range []int{1, 2, 4, 8} {
		t := &sumTask{buf: buf, streams: streams}
		for r := 0; r < reps; r++ {
			start := time.Now()
			p.Parallel(len(buf), 4096*streams, t)
			if bw := float64(len(buf)*4) / time.Since(start).Seconds(); bw > best {
				best = bw
			}
		}
	}
	if m := pr.m; m != nil {
		x, y := make([]float32, m.Cols), make([]float32, m.Rows)
		for r := 0; r < reps; r++ {
			start := time.Now()
			p.MatVec(m, x, y)
			if bw := float64(len(buf)*4) / time.Since(start).Seconds(); bw > best {
				best = bw
			}
		}
	}
	return best
}

// fmaTask runs the active set's FMA probe on every worker at once.
type fmaTask struct {
	rounds int
	flops  [64]int
}

func (t *fmaTask) Run(w, lo, hi int) {
	for i := lo; i < hi; i++ {
		t.flops[w%64] += kernels.Active().FMALoop(t.rounds)
	}
}

// FMAPeak measures the fp32 FMA peak in FLOP/s: independent vector FMAs
// at the active set's width on every worker of the pool, the best of reps
// runs. It is the ceiling prefill's products are measured against.
func FMAPeak(p *kernels.Pool, reps int) float64 {
	best := 0.0
	for r := 0; r < reps; r++ {
		t := &fmaTask{rounds: 2_000_000}
		start := time.Now()
		p.Parallel(p.Threads(), 1, t)
		total := 0
		for _, f := range t.flops {
			total += f
		}
		if f := float64(total) / time.Since(start).Seconds(); f > best {
			best = f
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
