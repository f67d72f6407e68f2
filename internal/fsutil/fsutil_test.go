package fsutil

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "s[1].bin")
	if err := WriteFileAtomic(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, ".s[1].bin.tmp-123")
	fresh := filepath.Join(dir, ".s[1].bin.tmp-456")
	os.WriteFile(stale, []byte("x"), 0o600)
	os.WriteFile(fresh, []byte("x"), 0o600)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(stale, old, old)
	if err := WriteFileAtomic(p, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Fatalf("content %q", b)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatal("stale temporary file kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatal("a recent temporary file was removed")
	}
	// A write that fails leaves the old file and no temporary file.
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "x"), []byte("y"), 0o600); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}
