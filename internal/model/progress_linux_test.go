//go:build linux

package model

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/format"
	"github.com/rwkv-chat/rwkv-chat/internal/pagecache"
	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
	"golang.org/x/sys/unix"
)

// weightResidency is the resident fraction of the weights coldFile looks
// at (all tensors but the embedding), from every one of their pages.
func weightResidency(t *testing.T, f *format.File) float64 {
	t.Helper()
	var regions [][]byte
	for _, ts := range f.Tensors {
		if ts.Name != "emb.weight" {
			regions = append(regions, ts.Data)
		}
	}
	frac, ok := pagecache.Resident(regions, 1<<20)
	if !ok {
		t.Fatal("Resident cannot tell on Linux")
	}
	return frac
}

// coldMapping copies src to a temporary file, drops it from the page cache
// and maps it with MADV_RANDOM, so that a page fault reads that page only
// (no read-around, whose size depends on the disk): what is resident
// afterwards is exactly what was touched.
func coldMapping(t *testing.T, src string) (string, []byte) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), filepath.Base(src))
	m := testutil.ColdMapping(t, path, data)
	if err := unix.Madvise(m, unix.MADV_RANDOM); err != nil {
		t.Skipf("madvise: %v", err)
	}
	if frac, _ := pagecache.Resident([][]byte{m}, 1<<20); frac > 0.5 {
		t.Skipf("%.0f%% of the file stays cached after FADV_DONTNEED (tmpfs?)", 100*frac)
	}
	return path, m
}

// A file not in the page cache counts as cold once parsed, and page-in
// (what Open does then, with Progress set) makes all its weights resident,
// which loading alone does not.
func TestColdFilePageIn(t *testing.T) {
	src := testutil.Path(t, "fixtures", "7v0-834K", "tiny-rwkv-7v0-834K-bf16.pth")
	path, data := coldMapping(t, src)
	f, err := format.Parse(path, data)
	if err != nil {
		t.Fatal(err)
	}
	if !coldFile(f.Tensors) {
		t.Fatalf("coldFile says no for a file just dropped from the page cache (%.0f%% resident)", 100*weightResidency(t, f))
	}
	if _, err := fromTensors(f.Tensors, f.Transformed, Options{}, false); err != nil {
		t.Fatal(err)
	}
	if frac := weightResidency(t, f); frac == 1 {
		t.Fatal("loading without page-in already made every weight resident; the test cannot tell page-in apart")
	}
	var log progressLog
	if _, err := fromTensors(f.Tensors, f.Transformed, Options{Progress: log.hook}, true); err != nil {
		t.Fatal(err)
	}
	log.check(t, f)
	if frac := weightResidency(t, f); frac != 1 {
		t.Errorf("after page-in %.1f%% of the weights are resident, want all", 100*frac)
	}
	if coldFile(f.Tensors) {
		t.Error("coldFile still says yes after page-in")
	}
}

// A file in the page cache is not cold: Open leaves it alone.
func TestWarmFileIsNotCold(t *testing.T) {
	path := testutil.Path(t, "models", "tiny", "tiny-rwkv-7v0-834K-FP32.bin")
	if _, err := os.ReadFile(path); err != nil { // brings it into the cache
		t.Fatal(err)
	}
	f, err := format.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if coldFile(f.Tensors) {
		t.Errorf("coldFile says yes for a file just read (%.0f%% resident)", 100*weightResidency(t, f))
	}
}
