package pagecache

import (
	"runtime"
	"testing"
)

// ReadIn walks all of b in chunks and reports each one; the sizes add up.
func TestReadInSteps(t *testing.T) {
	b := make([]byte, 10<<20+123)
	var steps []int
	ReadIn(b, 4<<20, func(n int) { steps = append(steps, n) })
	want := []int{4 << 20, 4 << 20, 2<<20 + 123}
	if len(steps) != len(want) {
		t.Fatalf("steps %v, want %v", steps, want)
	}
	for i := range want {
		if steps[i] != want[i] {
			t.Fatalf("steps %v, want %v", steps, want)
		}
	}
	// Unaligned, tiny and empty slices, and a nil step.
	ReadIn(b[1:2], 4<<20, nil)
	calls := 0
	ReadIn(nil, 0, func(int) { calls++ })
	if calls != 0 {
		t.Errorf("%d steps for an empty slice", calls)
	}
}

// Memory the program has written is resident; only Linux can tell.
func TestResidentHeap(t *testing.T) {
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte(i)
	}
	frac, ok := Resident([][]byte{b[:100], {}, b[5000:]}, 64)
	if runtime.GOOS != "linux" {
		if ok {
			t.Errorf("Resident answered (%v) outside Linux", frac)
		}
		return
	}
	if !ok || frac != 1 {
		t.Errorf("Resident of written memory = %v, %v; want 1, true", frac, ok)
	}
	if frac, ok := Resident(nil, 64); !ok || frac != 1 {
		t.Errorf("Resident of nothing = %v, %v; want 1, true", frac, ok)
	}
}
