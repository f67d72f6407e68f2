package format

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// parseChecked parses buf and requires either a one-line error naming the
// file or a file whose tensors are all consistent. A panic fails the test.
func parseChecked(t *testing.T, name string, buf []byte, what string) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s: %s: panic: %v", name, what, r)
		}
	}()
	f, err := Parse(name, buf)
	if err != nil {
		checkErr(t, err, name)
		return
	}
	checkConsistent(t, f, buf)
}

// truncationPoints: every length below 300 and about 200 more spread over
// the file, including its full length minus one.
func truncationPoints(size int) []int {
	var pts []int
	for n := 0; n < 300 && n < size; n++ {
		pts = append(pts, n)
	}
	for i := 1; i <= 200; i++ {
		if n := 300 + (size-300)*i/201; n > 300 && n < size {
			pts = append(pts, n)
		}
	}
	return append(pts, size-1)
}

func robustnessFiles(t *testing.T) []string {
	files := tinyModels(t)
	for _, d := range fixtureDirs(t) {
		files = append(files, glob(t, filepath.Join(d, "*.pth"))...)
		files = append(files, glob(t, filepath.Join(d, "*.safetensors"))...)
	}
	return files
}

func TestTruncated(t *testing.T) {
	for _, path := range robustnessFiles(t) {
		buf := readFile(t, path)
		name := filepath.Base(path)
		ok := 0
		for _, n := range truncationPoints(len(buf)) {
			if _, err := Parse(name, buf[:n]); err == nil {
				ok++
			}
			parseChecked(t, name, buf[:n], "truncated")
		}
		// Only an rwkv.cpp file cut exactly after a tensor (or its header)
		// can still be complete.
		if ok > 0 && Detect(buf) != FormatRWKVCpp {
			t.Errorf("%s: %d truncated copies parsed without error", name, ok)
		}
	}
}

// TestByteFlips damages each file at random places, biased towards the
// headers (start and end of the file), and restores it after each try.
func TestByteFlips(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tries := 200
	if testing.Short() {
		tries = 40
	}
	for _, path := range robustnessFiles(t) {
		buf := readFile(t, path)
		name := filepath.Base(path)
		const edge = 64 << 10
		for i := 0; i < tries; i++ {
			nflip := 1 + rng.IntN(4)
			pos := make([]int, nflip)
			old := make([]byte, nflip)
			for j := range pos {
				switch rng.IntN(3) {
				case 0:
					pos[j] = rng.IntN(len(buf))
				case 1:
					pos[j] = rng.IntN(min(edge, len(buf)))
				default:
					pos[j] = len(buf) - 1 - rng.IntN(min(edge, len(buf)))
				}
				old[j] = buf[pos[j]]
				buf[pos[j]] ^= byte(1 + rng.IntN(255))
			}
			parseChecked(t, name, buf, "byte flips")
			for j := nflip - 1; j >= 0; j-- {
				buf[pos[j]] = old[j]
			}
		}
	}
}
