//go:build amd64 && !purego

package kernels

import (
	"slices"
	"testing"
)

// rowOrder is the calls rowRuns must make for [lo, hi), written out plainly:
// four streams of q rows when the range has at least 4·minStreamRows,
// then adjacent groups of four, then single rows (-1 marks an unused slot).
func rowOrder(lo, hi int) [][4]int {
	var calls [][4]int
	r := lo
	if hi-lo >= 4*minStreamRows {
		q := (hi - lo) / 4
		for ; r < lo+q; r++ {
			calls = append(calls, [4]int{r, r + q, r + 2*q, r + 3*q})
		}
		r = lo + 4*q
	}
	for ; r+4 <= hi; r += 4 {
		calls = append(calls, [4]int{r, r + 1, r + 2, r + 3})
	}
	for ; r < hi; r++ {
		calls = append(calls, [4]int{r, -1, -1, -1})
	}
	return calls
}

// TestRowRuns: the runs of the grouped kernels make exactly rowOrder's
// calls, in its order, and every row of the range once.
func TestRowRuns(t *testing.T) {
	for lo := 0; lo < 6; lo++ {
		for hi := lo; hi <= lo+300; hi++ {
			want := rowOrder(lo, hi)
			var got [][4]int
			runs, n := rowRuns(lo, hi)
			for _, rn := range runs[:n] {
				if rn.groups < 1 || rn.last() >= hi {
					t.Fatalf("[%d, %d): run %+v reads past the range", lo, hi, rn)
				}
				for g := 0; g < rn.groups; g++ {
					c := [4]int{-1, -1, -1, -1}
					first := rn.first(g)
					if rn.stride == 0 {
						c[0] = first
					} else {
						for i := range c {
							c[i] = first + i*rn.stride
						}
					}
					got = append(got, c)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("[%d, %d): runs %v give calls %v, want %v", lo, hi, runs[:n], got, want)
			}
			seen := make([]int, hi)
			for _, c := range got {
				for _, r := range c {
					if r >= 0 {
						seen[r]++
					}
				}
			}
			for r := lo; r < hi; r++ {
				if seen[r] != 1 {
					t.Fatalf("[%d, %d): row %d computed %d times", lo, hi, r, seen[r])
				}
			}
		}
	}
}
