//go:build amd64 && !purego

package kernels

// minStreamRows is the shortest stream rowRuns splits a range into.
const minStreamRows = 16

// The four-row MatVec kernels take the rows [lo, hi) in this order: a long
// range is read as four streams at once, the first calls taking rows r,
// r+q, r+2q, r+3q (stride q rows) for r in [lo, lo+q), which keeps four
// sequential reads in flight per core (the hardware prefetchers serve
// several streams better than one: decode of a 0.4B Q8_0 model measured
// 10% faster); the rest go four adjacent rows at a time, and the last
// ones, fewer than four, one per call (stride 0). A row's arithmetic does
// not depend on the other rows of its call, so the order changes no
// result.
//
// A rowRun is a run of these calls: groups calls whose first rows are r,
// r+step, r+2·step, …, each on its first row + i·stride for i < 4 (stride
// 0: one row, four times). The F16/F32/BF16 and VNNI integer kernels take
// a run per call, so that Go pays one call per run rather than one per
// four rows; the avx2 integer kernels take one group per call (first).
type rowRun struct{ r, stride, step, groups int }

// last is the highest row the run reads.
func (rn rowRun) last() int { return rn.r + (rn.groups-1)*rn.step + 3*rn.stride }

// first is the first row of group g.
func (rn rowRun) first(g int) int { return rn.r + g*rn.step }

// store writes a group's results (first row r) into y.
func (rn rowRun) store(y []float32, r int, out *[4]float32) {
	if rn.stride == 0 {
		y[r] = out[0]
		return
	}
	for i := range out {
		y[r+i*rn.stride] = out[i]
	}
}

// rowRuns returns the order of [lo, hi) as at most three runs: the four
// streams, the adjacent groups of four, and the last rows one by one.
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
