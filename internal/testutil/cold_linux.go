//go:build linux

package testutil

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// ColdMapping writes data to path, drops the file from the page cache and
// maps it read-only (unmapped at the end of the test), for tests of what
// reading a file not yet in memory does. It skips the test when the system
// cannot drop the file.
func ColdMapping(t testing.TB, path string, data []byte) []byte {
	t.Helper()
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
	t.Cleanup(func() { unix.Munmap(m) })
	return m
}
