// Package testutil finds the shared reference data for tests.
package testutil

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Root returns the shared test data directory: $RWKV_TESTDATA, or the
// `shared` directory next to the repository. It skips the test when the
// directory is absent (see scripts/fetch-testdata.sh).
func Root(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("RWKV_TESTDATA")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(dir, "fixtures")); err != nil {
		t.Skipf("reference data not found at %s (set RWKV_TESTDATA or run scripts/fetch-testdata.sh)", dir)
	}
	return dir
}

// Path joins elements under Root and skips the test when the file is absent.
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Root(t)}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("reference file %s not found", p)
	}
	return p
}

// Float32s reads a raw little-endian float32 file.
func Float32s(t testing.TB, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}
