//go:build !linux

package pagecache

// Only Linux is asked whether pages are resident (mincore); elsewhere the
// answer is "cannot tell", and callers leave the file alone.
func resident([][]byte, int) (float64, bool) { return 0, false }

// willNeed gives no read-ahead advice outside Linux.
func willNeed([]byte) {}
