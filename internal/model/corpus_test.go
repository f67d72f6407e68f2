package model

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rwkv-chat/rwkv-chat/internal/format"
	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
)

// TestDamagedFiles: every tiny model and fixture weight file, truncated at
// 50 points and with 50 random byte flips, either loads and gives finite
// logits (or ErrNonFinite) or is refused with a one-line error naming the
// file — never a panic or a hang.
func TestDamagedFiles(t *testing.T) {
	root := testutil.Root(t)
	files, _ := filepath.Glob(filepath.Join(root, "models", "tiny", "*.bin"))
	more, _ := filepath.Glob(filepath.Join(root, "fixtures", "*", "*.pth"))
	files = append(files, more...)
	more, _ = filepath.Glob(filepath.Join(root, "fixtures", "*", "*.safetensors"))
	files = append(files, more...)
	var models []string
	for _, f := range files {
		if !strings.Contains(filepath.Base(f), "expected-logits") {
			models = append(models, f)
		}
	}
	if testing.Short() {
		models = models[:min(len(models), 4)]
	}
	dir := "damaged"
	rng := rand.New(rand.NewPCG(3, 4))
	cases, loaded := 0, 0
	for _, path := range models {
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		try := func(data []byte, what string) {
			cases++
			p := filepath.Join(dir, filepath.Base(path))
			start := time.Now()
			m, err := openBytes(p, data)
			if err != nil {
				msg := err.Error()
				if strings.Contains(msg, "\n") || !strings.Contains(msg, p) {
					t.Errorf("%s %s: error is not one line naming the file: %q", filepath.Base(path), what, msg)
				}
				return
			}
			loaded++
			logits := make([]float32, m.Cfg.Vocab)
			if err := m.Forward(m.NewState(), []int{1, 2, 3, 4, 5, 6, 7, 8}, logits); err != nil && !errors.Is(err, ErrNonFinite) {
				t.Errorf("%s %s: forward: %v", filepath.Base(path), what, err)
			}
			limit := 3 * time.Second // a hang, not a slow machine
			if raceEnabled {
				limit *= 10
			}
			if d := time.Since(start); d > limit {
				t.Errorf("%s %s: took %v", filepath.Base(path), what, d)
			}
		}
		for i := 0; i < 50; i++ {
			cut := rng.IntN(len(orig))
			if i < 10 {
				cut = i * 7 // the headers
			}
			try(orig[:cut], "truncated")
		}
		for i := 0; i < 50; i++ {
			data := append([]byte(nil), orig...)
			pos := rng.IntN(len(data))
			if i < 20 {
				pos = rng.IntN(min(len(data), 4096)) // headers and indexes
			}
			data[pos] ^= byte(1 + rng.IntN(255))
			try(data, "flipped")
		}
	}
	t.Logf("%d damaged files: %d loaded, %d refused", cases, loaded, cases-loaded)
}

// openBytes is Open on a file already in memory.
func openBytes(name string, data []byte) (*Model, error) {
	f, err := format.Parse(name, data)
	if err != nil {
		return nil, err
	}
	m, err := FromTensors(f.Tensors, f.Transformed, Options{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}
