//go:build !unix

package format

import (
	"errors"
	"os"
)

// mapFile reads the whole file into memory on systems without the unix
// mmap call (Windows). The returned release function only drops the buffer.
func mapFile(path string) ([]byte, func() error, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, errors.New("not a regular file")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return data, func() error { return nil }, nil
}
