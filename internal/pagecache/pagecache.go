// Package pagecache tells whether memory-mapped file data is already in
// RAM, and reads it in ahead of use. A model file that is not in the page
// cache otherwise makes the first token wait for the disk, page by page,
// with nothing on screen; reading it in while loading lets that time show as
// progress instead.
package pagecache

import "os"

// Resident estimates the fraction of the pages behind regions that are in
// RAM (for a mapped file: in the page cache), from at most samples pages
// spread evenly over them. ok is false when the system cannot tell (only
// Linux can); the fraction is then 0. Empty regions give 1.
func Resident(regions [][]byte, samples int) (frac float64, ok bool) {
	return resident(regions, samples)
}

// ReadIn makes the pages of b resident, chunk bytes at a time: it asks the
// system to read the following chunk ahead (where it can) and touches one
// byte of every page of the current one. step, when not nil, is called
// after each chunk with its size, so the sizes add up to len(b).
func ReadIn(b []byte, chunk int, step func(n int)) {
	if chunk <= 0 {
		chunk = 4 << 20
	}
	page := os.Getpagesize()
	if len(b) > 0 {
		willNeed(b[:min(chunk, len(b))])
	}
	for off := 0; off < len(b); off += chunk {
		end := min(off+chunk, len(b))
		if next := end; next < len(b) {
			willNeed(b[next:min(next+chunk, len(b))])
		}
		touch(b[off:end], page)
		if step != nil {
			step(end - off)
		}
	}
}

// touch reads one byte of every page b spans.
func touch(b []byte, page int) {
	if len(b) == 0 {
		return
	}
	var s byte
	for i := 0; i < len(b); i += page {
		s += b[i]
	}
	s += b[len(b)-1]
	sink = s
}

// sink keeps the reads of touch from being optimised away.
var sink byte
