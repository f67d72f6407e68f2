package bench

import (
	"bufio"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rwkv-chat/rwkv-chat/internal/model"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// ContextPoint is one measured position of a context run (a line of
// `bench --context N --json`).
type ContextPoint struct {
	Model string `json:"model,omitempty"`
	Type  string `json:"type,omitempty"`
	// Position p: the timed step feeds the p-th token of the stream, so the
	// state has absorbed p−1 tokens before it.
	Position   int     `json:"position"`
	MsPerToken float64 `json:"ms_per_token"`     // median of the timed steps
	MinMs      float64 `json:"min_ms_per_token"` // fastest timed step (less sensitive to a busy machine)
	TokS       float64 `json:"tok_s"`            // 1000 / ms_per_token
	RSS        int64   `json:"rss_bytes"`        // VmRSS after the timed steps
	RSSAnon    int64   `json:"rss_anon_bytes"`
	RSSFile    int64   `json:"rss_file_bytes"` // mapped model pages
	PeakRSS    int64   `json:"peak_rss_bytes"` // VmHWM since the run began
	HeapBytes  int64   `json:"go_heap_bytes"`  // Go heap in use
	NumGC      uint32  `json:"gc_cycles"`      // GC cycles since the run began
	StateBytes int64   `json:"state_bytes"`    // the recurrent state: constant
	// KVCacheBytes is what a transformer of the same width and depth would
	// hold at this position: see TransformerKVBytes.
	KVCacheBytes int64 `json:"kv_cache_bytes"`

	// Only on the last point: decode steps from this position and from a
	// state saved at PairedRefPosition, timed alternately step by step so
	// that both see the same load of the machine (medians).
	PairedRefPosition int     `json:"paired_ref_position,omitempty"`
	PairedRefMs       float64 `json:"paired_ref_ms_per_token,omitempty"`
	PairedMs          float64 `json:"paired_ms_per_token,omitempty"`
	// PairedRatio is the median over the pairs of (this step ÷ the
	// reference step): 1 means the same cost.
	PairedRatio float64 `json:"paired_ratio,omitempty"`
}

// ContextOptions choose what RunContext measures.
type ContextOptions struct {
	Length    int   // N: the last position (required)
	Positions []int // measured positions (default ContextPositions(Length))
	Chunk     int   // prefill chunk (default 256)
	Steps     int   // timed decode steps per position; the median is kept (default 8)
	Warmup    int   // untimed decode steps before them (default 2)
	Seed      uint64
	// RefPosition is the position whose state is saved for the paired
	// comparison with the last position (default 1000 when Length ≥ 10000,
	// else none; < 0: none). PairedSteps is the number of step pairs
	// (default 128).
	RefPosition int
	PairedSteps int
	// OnPoint, if set, receives each point as soon as it is measured.
	OnPoint func(ContextPoint)
}

// TransformerKVBytes is the size of the key-value cache that a decoder-only
// transformer with the same depth and width holds after pos tokens:
//
//	2 (K and V) × layers × n_embd × pos × 2 bytes (fp16)
//
// (full multi-head attention, d_model = n_embd, no grouped-query sharing).
// An RWKV model's state is instead a constant Cfg.StateFloats()×4 bytes.
func TransformerKVBytes(layers, embd, pos int) int64 {
	return 2 * int64(layers) * int64(embd) * int64(pos) * 2
}

// ContextPositions returns log-spaced positions 1, 2, 5, 10, 20, 50, … up to
// and including n.
func ContextPositions(n int) []int {
	var out []int
	for dec := 1; dec <= n; dec *= 10 {
		for _, k := range []int{1, 2, 5} {
			if p := k * dec; p <= n {
				out = append(out, p)
			}
		}
		if dec > n/10 {
			break
		}
	}
	if len(out) == 0 || out[len(out)-1] != n {
		out = append(out, n)
	}
	return out
}

// MemDetail returns the resident set split into anonymous memory (heap,
// state, scratch) and file-backed pages (the mapped model), from
// /proc/self/status (zeros elsewhere).
func MemDetail() (anon, file int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "RssAnon" && k != "RssFile" && k != "RssShmem") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		if k == "RssAnon" {
			anon = n * 1024
		} else {
			file += n * 1024
		}
	}
	return anon, file
}

// Prefault reads one byte of every page of the tensors' data, so that a
// memory-mapped model is wholly resident before a measurement starts.
// Without it the embedding table becomes resident row by row as tokens are
// seen, and resident memory grows with the number of distinct tokens fed
// (up to the table's size), which is not a cost of the context.
func Prefault(ts []*tensor.Tensor) (touched int64) {
	const page = 4096
	var sink byte
	for _, t := range ts {
		d := t.Data
		for i := 0; i < len(d); i += page {
			sink += d[i]
		}
		if len(d) > 0 {
			sink += d[len(d)-1]
		}
		touched += int64(len(d))
	}
	prefaultSink = sink
	return touched
}

var prefaultSink byte

// tokenStream yields deterministic pseudo-random token ids without holding
// the stream in memory.
type tokenStream struct {
	r     *rand.Rand
	vocab int
}

func (s *tokenStream) fill(dst []int) {
	for i := range dst {
		dst[i] = 1 + s.r.IntN(min(s.vocab, 65530)-1)
	}
}

// RunContext feeds a stream of pseudo-random tokens through m and, at each
// position, times single-token decode steps and reads the resident memory.
//
// Between positions the stream is prefilled in chunks of o.Chunk tokens
// (logits not computed). At position p, each timed step starts from a copy
// of the live state (which has absorbed p−1 tokens), so every timed step is
// exactly at position p and the live state is not advanced by the timing.
// The scratch buffers for a full chunk are allocated before position 1, so
// that resident memory does not grow with the first chunks.
//
// On a busy machine the time of one position against another is noisy, so
// the state at o.RefPosition is also kept, and at the last position steps
// from both states are timed alternately (the Paired* fields of the last
// point): their ratio compares the two positions under the same load.
func RunContext(m *model.Model, o ContextOptions) []ContextPoint {
	if o.Chunk <= 0 {
		o.Chunk = 256
	}
	if o.Steps <= 0 {
		o.Steps = 8
	}
	if o.Warmup < 0 {
		o.Warmup = 0
	} else if o.Warmup == 0 {
		o.Warmup = 2
	}
	if o.Positions == nil {
		o.Positions = ContextPositions(o.Length)
	}
	if o.RefPosition == 0 && o.Length >= 10000 {
		o.RefPosition = 1000
	}
	if o.PairedSteps <= 0 {
		o.PairedSteps = 128
	}
	c := m.Cfg
	m.Chunk = o.Chunk
	V := c.Vocab
	logits := make([]float32, V)
	buf := make([]int, o.Chunk)
	src := &tokenStream{r: rand.New(rand.NewPCG(o.Seed, 11)), vocab: V}
	timing := &tokenStream{r: rand.New(rand.NewPCG(o.Seed, 12)), vocab: V}
	live, probe := m.NewState(), m.NewState()
	var ref *model.State
	if o.RefPosition > 0 && len(o.Positions) > 0 && o.RefPosition < o.Positions[len(o.Positions)-1] {
		ref = m.NewState() // allocated now, so that resident memory does not step later
	}
	refSaved := false

	// Size the scratch for a whole chunk and warm the decode path, on the
	// probe state only.
	src2 := &tokenStream{r: rand.New(rand.NewPCG(o.Seed, 13)), vocab: V}
	src2.fill(buf)
	_ = m.Forward(probe, buf, logits)
	one := []int{0}
	for i := 0; i < o.Warmup; i++ {
		timing.fill(one)
		_ = m.Forward(probe, one, logits)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gc0 := ms.NumGC

	fed := 0 // tokens absorbed by live
	times := make([]float64, o.Steps)
	var out []ContextPoint
	for pi, p := range o.Positions {
		if p < 1 || p-1 < fed {
			continue
		}
		for fed < p-1 {
			n := min(o.Chunk, p-1-fed)
			if ref != nil && !refSaved && fed < o.RefPosition-1 {
				n = min(n, o.RefPosition-1-fed)
			}
			src.fill(buf[:n])
			_ = m.Forward(live, buf[:n], nil)
			fed += n
			if ref != nil && !refSaved && fed == o.RefPosition-1 {
				ref.CopyFrom(live)
				refSaved = true
			}
		}
		for i := 0; i < o.Warmup+o.Steps; i++ {
			probe.CopyFrom(live)
			timing.fill(one)
			start := time.Now()
			_ = m.Forward(probe, one, logits)
			if d := time.Since(start); i >= o.Warmup {
				times[i-o.Warmup] = d.Seconds()
			}
		}
		med := median(times)
		var pairRef, pair, pairRatio float64
		if pi == len(o.Positions)-1 && refSaved {
			rt, lt, ratio := make([]float64, o.PairedSteps), make([]float64, o.PairedSteps), make([]float64, o.PairedSteps)
			step := func(st *model.State) float64 {
				probe.CopyFrom(st)
				timing.fill(one)
				start := time.Now()
				_ = m.Forward(probe, one, logits)
				return time.Since(start).Seconds()
			}
			for i := range rt {
				if i%2 == 0 { // alternate which goes first
					rt[i] = step(ref)
					lt[i] = step(live)
				} else {
					lt[i] = step(live)
					rt[i] = step(ref)
				}
				ratio[i] = lt[i] / rt[i]
			}
			pairRef, pair, pairRatio = median(rt), median(lt), median(ratio)
		}
		runtime.ReadMemStats(&ms)
		pt := ContextPoint{
			Position:     p,
			MsPerToken:   med * 1e3,
			MinMs:        times[0] * 1e3,
			TokS:         1 / med,
			HeapBytes:    int64(ms.HeapInuse),
			NumGC:        ms.NumGC - gc0,
			StateBytes:   int64(c.StateFloats()) * 4,
			KVCacheBytes: TransformerKVBytes(c.Layers, c.Embd, p),
		}
		if pair > 0 {
			pt.PairedRefPosition, pt.PairedRefMs, pt.PairedMs, pt.PairedRatio = o.RefPosition, pairRef*1e3, pair*1e3, pairRatio
		}
		pt.RSS, pt.PeakRSS = RSS()
		pt.RSSAnon, pt.RSSFile = MemDetail()
		if o.OnPoint != nil {
			o.OnPoint(pt)
		}
		out = append(out, pt)
	}
	return out
}

// median sorts v and returns its median.
func median(v []float64) float64 {
	sort.Float64s(v)
	n := len(v)
	if n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[n/2]
}
