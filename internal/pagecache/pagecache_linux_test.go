//go:build linux

package pagecache

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// A file dropped from the page cache reads as not resident, and as
// resident once ReadIn went over it.
func TestResidentFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Skipf("fadvise: %v", err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, len(data), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
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
