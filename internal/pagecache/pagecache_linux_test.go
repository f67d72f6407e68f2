//go:build linux

package pagecache

import (
	"path/filepath"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
)

// A file dropped from the page cache reads as not resident, and as
// resident once ReadIn went over it.
func TestResidentFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	m := testutil.ColdMapping(t, path, data)
	regions := [][]byte{m[3 : 1<<20], m[2<<20 : 8<<20]}
	frac, ok := Resident(regions, 128)
	if !ok {
		t.Fatal("Resident cannot tell on Linux")
	}
	if frac >= 0.5 {
		t.Skipf("the file system kept %.0f%% of the file cached after FADV_DONTNEED (tmpfs?)", 100*frac)
	}
	sum := 0
	for _, r := range regions {
		ReadIn(r, 1<<20, func(n int) { sum += n })
	}
	if sum != len(regions[0])+len(regions[1]) {
		t.Errorf("steps add up to %d, want %d", sum, len(regions[0])+len(regions[1]))
	}
	if frac, _ := Resident(regions, 128); frac != 1 {
		t.Errorf("after ReadIn %.0f%% resident, want all", 100*frac)
	}
}
