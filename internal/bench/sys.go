// Package bench measures the engine and the machine: decode and prefill
// speed, load time, resident memory, memory bandwidth and FMA throughput,
// and the cost per token along a long context.
package bench

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// RSS returns the current and peak resident set size in bytes (Linux
// /proc; zeros elsewhere).
func RSS() (cur, peak int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		field := func(prefix string) (int64, bool) {
			rest, ok := strings.CutPrefix(line, prefix)
			if !ok {
				return 0, false
			}
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n * 1024, err == nil
		}
		if v, ok := field("VmRSS:"); ok {
			cur = v
		}
		if v, ok := field("VmHWM:"); ok {
			peak = v
		}
	}
	return cur, peak
}

// ResetPeakRSS restarts the peak-RSS counter (Linux ≥ 4.0), so that each
// configuration of a benchmark run reports its own peak.
func ResetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}
