//go:build amd64 && !purego

package kernels

import (
	"slices"
	"testing"
)

// TestRowRuns: the runs of the grouped kernels make exactly the rowWalk's
// calls, in its order.
func TestRowRuns(t *testing.T) {
	for lo := 0; lo < 6; lo++ {
		for hi := lo; hi <= lo+300; hi++ {
			var want, got [][4]int
			for wk := newRowWalk(lo, hi); wk.next(); {
				c := [4]int{-1, -1, -1, -1}
				for i := 0; i < wk.k; i++ {
					c[i] = wk.row(i)
				}
				want = append(want, c)
			}
			runs, n := rowRuns(lo, hi)
			for _, rn := range runs[:n] {
				if rn.groups < 1 || rn.last() >= hi {
					t.Fatalf("[%d, %d): run %+v reads past the range", lo, hi, rn)
				}
				for g := 0; g < rn.groups; g++ {
					c := [4]int{-1, -1, -1, -1}
					first := rn.r + g*rn.step
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
				t.Fatalf("[%d, %d): runs %v give calls %v, rowWalk %v", lo, hi, runs[:n], got, want)
			}
		}
	}
}
