package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rwkv-chat/rwkv-chat/internal/synth"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// TestPerplexityPipeConstantMemory pipes generated text into the built
// binary (`perplexity --file -`) and compares the child's peak resident
// set (ru_maxrss from wait4, what /usr/bin/time -v reports) for a small and
// a larger input: 0.25 MB and 2 MB by default; 1 MB and
// $RWKV_CHAT_MEMTEST_MB MB if that is set (100 for the figure in the issue:
// about an hour on a busy 2-core machine, as the byte-level model scores one
// token per byte). The model is a tiny
// synthetic RWKV-7 (1 layer × 32, vocabulary 256, byte tokenizer).
func TestPerplexityPipeConstantMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("pipes megabytes through the binary")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs Linux")
	}
	smallN, bigN := int64(250_000), int64(2_000_000)
	if v := os.Getenv("RWKV_CHAT_MEMTEST_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 {
			t.Fatalf("RWKV_CHAT_MEMTEST_MB=%q: want a number of megabytes ≥ 2", v)
		}
		smallN, bigN = 1_000_000, int64(n)*1_000_000
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "rwkv-chat")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	mpath := filepath.Join(dir, "tiny.bin")
	if err := synth.Write(mpath, synth.Spec{Arch: 7, Layers: 1, Embd: 32, Vocab: 256, HeadSize: 32, Type: tensor.F32}); err != nil {
		t.Fatal(err)
	}
	small, _ := pipePeakRSS(t, bin, mpath, smallN)
	big, _ := pipePeakRSS(t, bin, mpath, bigN)
	t.Logf("peak RSS: %.2f MB piped → %.1f MiB; %.2f MB → %.1f MiB; difference %+.2f MiB",
		float64(smallN)/1e6, mib(small), float64(bigN)/1e6, mib(big), mib(big-small))
	if big-small > 10<<20 {
		t.Errorf("peak RSS grows with the input: %.1f MiB for %d bytes, %.1f MiB for %d bytes", mib(small), smallN, mib(big), bigN)
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// pipePeakRSS runs `perplexity --file -` on n bytes of generated text
// written into its stdin, and returns the child's peak RSS and the number
// of tokens it scored.
func pipePeakRSS(t *testing.T, bin, mpath string, n int64) (int64, int) {
	t.Helper()
	cmd := exec.Command(bin, "perplexity", "--model", mpath, "--file", "-", "--json")
	cmd.Env = append(os.Environ(), "RWKV_CHAT_HOME="+t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	werr := make(chan error, 1)
	go func() {
		werr <- writeText(in, n)
		in.Close()
	}()
	err = cmd.Wait()
	if e := <-werr; e != nil && err == nil {
		err = e
	}
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, errb.String())
	}
	var res perplexityResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || int64(res.Tokens) != n {
		t.Fatalf("output %q (%v); want %d tokens", out.String(), err, n)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Skip("no rusage on this system")
	}
	t.Logf("%d bytes in %.1f s: ppl %.3f", n, time.Since(start).Seconds(), res.PPL)
	return ru.Maxrss * 1024, res.Tokens // Linux: ru_maxrss is in KiB
}

// writeText writes n bytes of pseudo-random English-like text, 64 KiB at a
// time, never holding more.
func writeText(w interface{ Write([]byte) (int, error) }, n int64) error {
	words := []string{"the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be",
		"by", "on", "not", "he", "I", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had",
		"they", "you", "were", "their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more",
		"when", "will", "would", "who", "so", "no", "river", "mountain", "language", "model", "recurrent"}
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 0, 64<<10+64)
	for n > 0 {
		buf = buf[:0]
		for len(buf) < 64<<10 {
			buf = append(buf, words[r.IntN(len(words))]...)
			switch r.IntN(12) {
			case 0:
				buf = append(buf, ".\n"...)
			case 1:
				buf = append(buf, ", "...)
			default:
				buf = append(buf, ' ')
			}
		}
		k := min(int64(len(buf)), n)
		if _, err := w.Write(buf[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}
