//go:build amd64 && !purego

package kernels

// minStreamRows is the shortest stream a rowWalk splits a range into.
const minStreamRows = 16

// rowWalk orders the rows [lo, hi) for the four-row MatVec kernels. A long
// range is read as four streams at once: the first calls take rows r, r+q,
// r+2q, r+3q (stride q rows) for r in [lo, lo+q), which keeps four
// sequential reads in flight per core (the hardware prefetchers serve
// several streams better than one: decode of a 0.4B Q8_0 model measured
// 10% faster); the rest go four adjacent rows at a time, and the last
// ones, fewer than four, one per call (stride 0). A row's arithmetic does
// not depend on the other rows of its call, so the order changes no
// result.
type rowWalk struct {
	r, stride, k int // the call: rows r + i·stride for i < k
	lo, hi, q    int
	started      bool
}

func newRowWalk(lo, hi int) rowWalk {
	w := rowWalk{lo: lo, hi: hi, r: lo}
	if hi-lo >= 4*minStreamRows {
		w.q = (hi - lo) / 4
	}
	return w
}

// next moves to the next call and reports whether there is one.
func (w *rowWalk) next() bool {
	if w.started {
		if w.k == 4 && w.stride == w.q {
			w.r++
			if w.r == w.lo+w.q {
				w.r = w.lo + 4*w.q
			}
		} else {
			w.r += w.k
		}
	}
	w.started = true
	switch {
	case w.r >= w.hi:
		return false
	case w.q > 0 && w.r < w.lo+w.q:
		w.stride, w.k = w.q, 4
	case w.r+4 <= w.hi:
		w.stride, w.k = 1, 4
	default:
		w.stride, w.k = 0, 1
	}
	return true
}

// row is the i-th row of the call.
func (w *rowWalk) row(i int) int { return w.r + i*w.stride }

// store writes the call's results into y.
func (w *rowWalk) store(y []float32, out *[4]float32) {
	for i := 0; i < w.k; i++ {
		y[w.r+i*w.stride] = out[i]
	}
}

// A rowRun is a run of the rowWalk's calls that one call of a grouped
// kernel makes: groups calls whose first rows are r, r+step, r+2·step, …,
// each on its first row + i·stride for i < 4 (stride 0: one row, four
// times). The F16/F32/BF16 and VNNI integer kernels take runs, so that Go
// pays one call per run rather than one per four rows.
type rowRun struct{ r, stride, step, groups int }

// last is the highest row the run reads.
func (rn rowRun) last() int { return rn.r + (rn.groups-1)*rn.step + 3*rn.stride }

// rowRuns returns the rowWalk order of [lo, hi) as at most three runs: the
// four streams, the adjacent groups of four, and the last rows one by one.
func rowRuns(lo, hi int) (runs [3]rowRun, n int) {
	r := lo
	if hi-lo >= 4*minStreamRows {
		q := (hi - lo) / 4
		runs[n] = rowRun{r: lo, stride: q, step: 1, groups: q}
		n++
		r = lo + 4*q
	}
	if a := (hi - r) / 4; a > 0 {
		runs[n] = rowRun{r: r, stride: 1, step: 4, groups: a}
		n++
		r += 4 * a
	}
	if r < hi {
		runs[n] = rowRun{r: r, stride: 0, step: 1, groups: hi - r}
		n++
	}
	return runs, n
}
