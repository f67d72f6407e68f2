//go:build linux

package pagecache

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

func resident(regions [][]byte, samples int) (float64, bool) {
	page := os.Getpagesize()
	var total int64
	for _, r := range regions {
		total += int64(len(r))
	}
	if total == 0 {
		return 1, true
	}
	n := int64(max(samples, 1))
	if pages := (total + int64(page) - 1) / int64(page); n > pages {
		n = pages
	}
	var vec [1]byte
	hit := int64(0)
	ri, base := 0, int64(0)
	for i := int64(0); i < n; i++ {
		// The middle of the i-th of n equal stretches of the regions put
		// end to end.
		off := (2*i + 1) * total / (2 * n)
		for off >= base+int64(len(regions[ri])) {
			base += int64(len(regions[ri]))
			ri++
		}
		if err := mincore(pageOf(&regions[ri][off-base], page), vec[:]); err != nil {
			return 0, false
		}
		if vec[0]&1 != 0 {
			hit++
		}
	}
	return float64(hit) / float64(n), true
}

// mincore asks which pages of b are resident: bit 0 of vec[i] for page i
// (x/sys/unix has no wrapper for it on Linux).
func mincore(b, vec []byte) error {
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if e != 0 {
		return e
	}
	return nil
}

// willNeed starts reading the pages of b ahead. It is advice: an error
// (memory that is not a file mapping, an old kernel) only means no
// read-ahead, so it is ignored.
func willNeed(b []byte) {
	if len(b) == 0 {
		return
	}
	page := os.Getpagesize()
	start := pageOf(&b[0], page)
	lead := uintptr(unsafe.Pointer(&b[0])) - uintptr(unsafe.Pointer(&start[0]))
	_ = unix.Madvise(unsafe.Slice(&start[0], int(lead)+len(b)), unix.MADV_WILLNEED)
}

// pageOf returns the whole page that holds *p. The page is mapped, since p
// points into it, so the slice is only handed to system calls that inspect
// or advise pages; its bytes outside the caller's slice are never read.
func pageOf(p *byte, page int) []byte {
	off := int(uintptr(unsafe.Pointer(p)) % uintptr(page))
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(p), -off)), page)
}
