package bench

import (
	"math/rand/v2"
	"time"

	"github.com/rwkv-chat/rwkv-chat/internal/kernels"
	"github.com/rwkv-chat/rwkv-chat/internal/model"
)

// Result is one configuration's figures (the `bench --json` line).
type Result struct {
	Model         string  `json:"model"`
	Type          string  `json:"type"`
	Threads       int     `json:"threads"`
	Kernels       string  `json:"kernels"`
	DecodeTokS    float64 `json:"decode_tok_s"`
	PrefillTokS   float64 `json:"prefill_tok_s"`
	PrefillTokens int     `json:"prefill_tokens"`
	LoadS         float64 `json:"load_s"`
	FirstLogitsS  float64 `json:"first_logits_s"`
	PeakRSS       int64   `json:"peak_rss_bytes"`
	BytesPerToken int64   `json:"bytes_per_token"`
	BandwidthGBs  float64 `json:"bandwidth_gbs"`
	Roofline      float64 `json:"roofline_fraction"`
	GEMMGFlops    float64 `json:"gemm_gflops"`
	FMAPeakGFlops float64 `json:"fma_peak_gflops"`
	PrefillGFlops float64 `json:"prefill_gflops"`
}

// Options choose what Run measures.
type Options struct {
	PrefillTokens int // prompt length for prefill (default 512)
	DecodeTokens  int // timed single-token steps per repeat (default 16)
	Repeats       int // repeats; decode reports the median (default 3)
	// Bandwidth, if set, measures the memory read bandwidth in bytes/s;
	// it runs before each decode repeat, and the roofline fraction is the
	// median over repeats of the bytes read per second of decoding ÷ the
	// bandwidth just measured. It runs after the peak RSS is taken, so
	// its buffer does not count.
	Bandwidth func() float64
}

// tokens returns n deterministic pseudo-random token ids below vocab.
func tokens(n, vocab int, seed uint64) []int {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]int, n)
	for i := range out {
		out[i] = 1 + r.IntN(min(vocab, 65530)-1)
	}
	return out
}

// Run measures a loaded model: prefill of a prompt, then decode steps (and
// the bandwidth next to them, if o.Bandwidth is set). The caller fills the
// model, type, load time and the machine's GEMM and FMA figures.
func Run(m *model.Model, o Options) Result {
	if o.PrefillTokens <= 0 {
		o.PrefillTokens = 512
	}
	if o.DecodeTokens <= 0 {
		o.DecodeTokens = 16
	}
	if o.Repeats <= 0 {
		o.Repeats = 3
	}
	V := m.Cfg.Vocab
	logits := make([]float32, V)
	res := Result{Threads: kernels.Default().Threads(), Kernels: kernels.Active().Name, BytesPerToken: m.WeightBytes(),
		PrefillTokens: o.PrefillTokens}
	prompt := tokens(o.PrefillTokens, V, 1)

	// Prefill: best of repeats (the first also warms the pages).
	var best time.Duration
	for r := 0; r < o.Repeats; r++ {
		st := m.NewState()
		start := time.Now()
		_ = m.Forward(st, prompt, logits)
		if d := time.Since(start); r == 0 || d < best {
			best = d
		}
	}
	res.PrefillTokS = float64(o.PrefillTokens) / best.Seconds()
	res.PrefillGFlops = 2 * float64(m.Params()) * res.PrefillTokS / 1e9

	// Decode: median over repeats of the mean step time, after warm-up.
	st := m.NewState()
	_ = m.Forward(st, prompt[:min(8, len(prompt))], logits)
	steps := tokens(o.DecodeTokens, V, 2)
	for _, t := range steps[:min(4, len(steps))] {
		_ = m.Forward(st, []int{t}, logits)
	}
	_, res.PeakRSS = RSS()
	times := make([]float64, o.Repeats)
	bws := make([]float64, o.Repeats)
	fracs := make([]float64, o.Repeats)
	one := []int{0}
	for r := range times {
		if o.Bandwidth != nil {
			bws[r] = o.Bandwidth()
		}
		start := time.Now()
		for _, t := range steps {
			one[0] = t
			_ = m.Forward(st, one, logits)
		}
		times[r] = time.Since(start).Seconds() / float64(len(steps))
		if bws[r] > 0 {
			fracs[r] = float64(res.BytesPerToken) / times[r] / bws[r]
		}
	}
	res.DecodeTokS = 1 / median(times)
	res.BandwidthGBs = median(bws) / 1e9
	res.Roofline = median(fracs)
	return res
}
