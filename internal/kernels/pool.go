package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Task is work split over a range of indices. Run is called once per worker
// with worker index w and a disjoint range [lo, hi).
type Task interface {
	Run(w, lo, hi int)
}

// Pool is the one set of persistent worker goroutines of the process. A call
// to Parallel hands each worker one contiguous range: one channel send per
// worker per call, no goroutine spawns, no allocation.
type Pool struct {
	mu       sync.Mutex
	n        int
	gen      atomic.Uint64 // bumped once per job; workers wait for a change
	pending  atomic.Int32  // workers still running the current job
	sleeping []atomic.Bool // worker i is blocked on wake[i]
	wake     []chan struct{}
	task     Task
	total    int
	align    int
	scratch  [][]float32
	bscr     [][]byte

	// Reused task values, so that an operation allocates nothing.
	mm  matMulTask
	qt  quantTask
	qa  qActs // quantized activations of the current product
	wk  wkvTask
	bt  batchTask
	one [1]MatVecJob   // MatVec's batch
	qvs [maxBatch]qVec // quantized activations of a MatVecs batch
}

// NewPool starts n-1 workers (the caller's goroutine is worker 0).
func NewPool(n int) *Pool {
	if n < 1 {
		n = 1
	}
	p := &Pool{n: n, sleeping: make([]atomic.Bool, n), wake: make([]chan struct{}, n),
		scratch: make([][]float32, n), bscr: make([][]byte, n)}
	for i := 1; i < n; i++ {
		p.wake[i] = make(chan struct{}, 1)
		go p.worker(i)
	}
	return p
}

// Threads is the number of workers, the caller included.
func (p *Pool) Threads() int { return p.n }

func (p *Pool) worker(i int) {
	var seen uint64
	for {
		seen = p.await(i, seen)
		lo, hi := p.split(i)
		if lo < hi {
			p.task.Run(i, lo, hi)
		}
		p.pending.Add(-1)
	}
}

// spinRounds bounds how long a worker polls for the next job before it
// sleeps: decode issues a product every few tens of microseconds, and a
// polling worker starts at once where a sleeping one takes a scheduler
// wake-up. Polling yields the processor, so it never starves the caller.
const spinRounds = 2000

// await returns the next job's generation once it differs from seen.
func (p *Pool) await(i int, seen uint64) uint64 {
	for r := 0; ; r++ {
		if g := p.gen.Load(); g != seen {
			return g
		}
		if r < spinRounds {
			if r > 64 {
				runtime.Gosched()
			}
			continue
		}
		// Swap, not Store: a read-modify-write orders the flag before the
		// re-check of gen even where loads may pass stores (qemu-user runs
		// arm64's store-release/load-acquire pair on x86 without a fence).
		p.sleeping[i].Swap(true)
		if g := p.gen.Load(); g != seen { // a job came while we decided to sleep
			p.sleeping[i].Store(false)
			return g
		}
		<-p.wake[i]
		p.sleeping[i].Store(false)
		r = 0
	}
}

// split gives worker i its range; ranges are multiples of align so that
// results never depend on the number of threads.
func (p *Pool) split(i int) (int, int) {
	units := (p.total + p.align - 1) / p.align
	lo := units * i / p.n * p.align
	hi := units * (i + 1) / p.n * p.align
	if hi > p.total {
		hi = p.total
	}
	if lo > p.total {
		lo = p.total
	}
	return lo, hi
}

// Parallel runs t over [0, total) on all workers and waits. align is the
// granularity of the split (1 for rows). Small jobs run on the caller alone.
func (p *Pool) Parallel(total, align int, t Task) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.parallel(total, align, t)
}

func (p *Pool) parallel(total, align int, t Task) {
	if align < 1 {
		align = 1
	}
	if p.n == 1 || total <= align {
		t.Run(0, 0, total)
		return
	}
	p.task, p.total, p.align = t, total, align
	p.pending.Store(int32(p.n - 1))
	p.gen.Add(1)
	p.wakeSleepers()
	if lo, hi := p.split(0); lo < hi {
		t.Run(0, lo, hi)
	}
	for r := 0; p.pending.Load() != 0; r++ {
		if r > 64 {
			runtime.Gosched()
		}
		if r&4095 == 4095 {
			// Belt and braces: should a wake-up ever be lost, the
			// worker still gets one. A spare one costs a worker a
			// round of polling.
			p.wakeSleepers()
		}
	}
	p.task = nil
}

// wakeSleepers sends a wake-up to every worker blocked on its channel.
func (p *Pool) wakeSleepers() {
	for i := 1; i < p.n; i++ {
		if p.sleeping[i].Load() {
			select {
			case p.wake[i] <- struct{}{}:
			default: // a wake-up is already queued
			}
		}
	}
}

// Scratch returns worker w's float buffer of at least n elements; it grows
// only when a larger size is first asked for.
func (p *Pool) Scratch(w, n int) []float32 {
	if cap(p.scratch[w]) < n {
		p.scratch[w] = make([]float32, n)
	}
	return p.scratch[w][:n]
}

// ByteScratch is Scratch for bytes.
func (p *Pool) ByteScratch(w, n int) []byte {
	if cap(p.bscr[w]) < n {
		p.bscr[w] = make([]byte, n)
	}
	return p.bscr[w][:n]
}

var (
	defaultPool     *Pool
	defaultPoolOnce sync.Once
)

// DefaultThreads is the number of physical cores when known, else GOMAXPROCS.
func DefaultThreads() int {
	if c := physicalCores(); c > 0 {
		return c
	}
	return runtime.GOMAXPROCS(0)
}

// SetThreads replaces the default pool; call it once at start, before use.
func SetThreads(n int) {
	if n < 1 {
		n = DefaultThreads()
	}
	defaultPoolOnce.Do(func() {})
	defaultPool = NewPool(n)
}

// Default is the process-wide pool.
func Default() *Pool {
	defaultPoolOnce.Do(func() {
		if defaultPool == nil {
			defaultPool = NewPool(DefaultThreads())
		}
	})
	return defaultPool
}
