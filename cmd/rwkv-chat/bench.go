package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/rwkv-chat/rwkv-chat/internal/bench"
	"github.com/rwkv-chat/rwkv-chat/internal/hub"
	"github.com/rwkv-chat/rwkv-chat/internal/kernels"
	"github.com/rwkv-chat/rwkv-chat/internal/synth"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newBenchCmd) }

type benchOptions struct {
	model     modelOptions
	Synthetic []string
	Types     []string
	Prefill   int
	Decode    int
	Repeats   int
	JSON      bool
	NoMachine bool
	Context   int
	Plot      string
}

func newBenchCmd(s *streams) *cobra.Command {
	o := &benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench [--model FILE | --synthetic v7-0.4b] [--type f16,q8_0]",
		Short: "Measure decode and prefill speed, load time, memory, and the machine's limits",
		Long: `bench times one-token decode steps (median of repeats, after warm-up) and the
prefill of a prompt, the load time and the peak resident memory, and measures this
machine's memory read bandwidth and fp32 GEMM throughput, so that decode speed can
be read as a fraction of the bandwidth roofline. The bandwidth is measured again
(256 MiB, best of five runs of each way of reading) just before each timed decode repeat:
"roofline" is the median over repeats of the weight bytes read per second of
decoding ÷ that bandwidth, and "GB/s" the median of those measurements, because
on a shared machine the bandwidth can change by half from one minute to the next.
A model file that is not in the
page cache is read in during loading (on Linux), so its load time includes that
and its first token does not wait for the disk.

--synthetic writes (once, into the cache dir) an rwkv.cpp-format file with random
weights at a real model's shape: v4|v5|v6|v7 - 0.1b|0.4b|1.5b|2.9b.

--context N instead feeds a stream of N pseudo-random tokens (prefilled in chunks
of 256) and, at positions 1, 2, 5, 10, 20, 50, … N, times single decode steps
(median of 8) and reads the resident memory. Each line also gives the KV cache a
transformer of the same depth and width would hold at that position:
2 (K and V) × layers × n_embd × position × 2 bytes (fp16). The model file is
touched page by page first, so that RSS does not grow with the embedding rows
the stream happens to reach. --plot FILE.png|FILE.svg draws the curves.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runBench(o, s) },
	}
	o.model.addFlags(cmd)
	f := cmd.Flags()
	f.StringSliceVar(&o.Synthetic, "synthetic", nil, "synthetic model(s), e.g. v7-0.1b,v7-0.4b")
	f.StringSliceVar(&o.Types, "type", []string{"f16"}, "weight type(s) of synthetic models: f32, f16, q8_0, q5_1, q5_0, q4_1, q4_0")
	f.IntVar(&o.Prefill, "prefill", 512, "prompt length for the prefill figure")
	f.IntVar(&o.Decode, "decode", 16, "decode steps timed per repeat")
	f.IntVar(&o.Repeats, "repeats", 3, "repeats (decode: median; prefill: best)")
	f.BoolVar(&o.JSON, "json", false, "one JSON object per configuration per line")
	f.BoolVar(&o.NoMachine, "no-machine", false, "skip the bandwidth and GEMM measurements")
	f.IntVar(&o.Context, "context", 0, "time decode steps along a context of N tokens")
	f.StringVar(&o.Plot, "plot", "", "with --context: draw the curve into FILE.png or FILE.svg")
	return cmd
}

// benchTarget is one file to time.
type benchTarget struct {
	name, typ, path string
}

func runBench(o *benchOptions, s *streams) error {
	var targets []benchTarget
	if o.model.Path != "" {
		targets = append(targets, benchTarget{name: filepath.Base(o.model.Path), path: o.model.Path})
	}
	for _, name := range o.Synthetic {
		for _, typ := range o.Types {
			dt, err := tensor.ParseDType(typ)
			if err != nil {
				return usageErrorf("--type: %v", err)
			}
			spec, err := synth.Parse(name, dt)
			if err != nil {
				return usageError{err}
			}
			path, err := synthFile(spec, s)
			if err != nil {
				return err
			}
			targets = append(targets, benchTarget{name: name, typ: strings.ToLower(dt.String()), path: path})
		}
	}
	if len(targets) == 0 {
		return usageErrorf("nothing to measure: give --model FILE or --synthetic NAME")
	}
	if o.Prefill < 1 || o.Decode < 1 || o.Repeats < 1 {
		return usageErrorf("--prefill, --decode and --repeats must be at least 1")
	}
	if o.Context > 0 {
		return runBenchContext(o, s, targets)
	}
	pool := kernels.Default()
	var bw, gemm, peak float64
	if !o.NoMachine {
		bw = bench.Bandwidth(pool, 1<<30, 5)
		gemm = bench.GEMMFlops(pool, 3)
		peak = bench.FMAPeak(pool, 3)
		runtime.GC()
		debug.FreeOSMemory() // drop the 1 GiB probe before peak RSS is taken
		if !o.JSON {
			fmt.Fprintf(s.Out, "machine: %s, %d threads, kernels %s; memory read %.1f GB/s; fp32 FMA peak %.1f GFLOP/s, our GEMM %.1f\n",
				kernels.CPUName(), pool.Threads(), kernels.Active().Name, bw/1e9, peak/1e9, gemm/1e9)
			fmt.Fprintf(s.Out, "%-16s %-6s %9s %9s %7s %11s %8s %8s %10s %9s\n", "model", "type", "decode/s", "roofline", "GB/s", "prefill/s", "GFLOP/s", "load s", "peak RSS", "MB/token")
		}
	}
	for _, tg := range targets {
		bench.ResetPeakRSS()
		start := time.Now()
		m, err := openWithProgress(tg.path, s.Err)
		if err != nil {
			return err
		}
		load := time.Since(start)
		first := make([]float32, m.Cfg.Vocab)
		_ = m.Forward(m.NewState(), []int{1}, first)
		firstLogits := time.Since(start)
		bo := bench.Options{PrefillTokens: o.Prefill, DecodeTokens: o.Decode, Repeats: o.Repeats}
		if !o.NoMachine {
			pr := bench.NewProber(pool, 256<<20)
			bo.Bandwidth = func() float64 { return pr.Measure(5) }
		}
		r := bench.Run(m, bo)
		runtime.GC()
		debug.FreeOSMemory() // drop the probe's buffer before the next model
		r.Model, r.Type = tg.name, tg.typ
		if r.Type == "" {
			r.Type = strings.ToLower(m.DominantType().String())
		}
		r.LoadS, r.FirstLogitsS = load.Seconds(), firstLogits.Seconds()
		r.GEMMGFlops, r.FMAPeakGFlops = gemm/1e9, peak/1e9
		m.Close()
		if o.JSON {
			b, _ := json.Marshal(r)
			fmt.Fprintf(s.Out, "%s\n", b)
			continue
		}
		fmt.Fprintf(s.Out, "%-16s %-6s %9.2f %8.0f%% %7.1f %11.1f %8.1f %8.2f %10s %9.1f\n", r.Model, r.Type, r.DecodeTokS, 100*r.Roofline, r.BandwidthGBs,
			r.PrefillTokS, r.PrefillGFlops, r.LoadS, formatBytes(r.PeakRSS), float64(r.BytesPerToken)/1e6)
	}
	return nil
}

// synthFile returns the path of a synthetic model, writing it on first use
// into the cache dir.
func synthFile(spec synth.Spec, s *streams) (string, error) {
	dir, err := hub.Dir()
	if err != nil {
		return "", err
	}
	dir = filepath.Join(dir, "synthetic")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	path := filepath.Join(dir, spec.Name())
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	fmt.Fprintf(s.Err, "writing synthetic model %s …\n", path)
	if err := synth.Write(path, spec); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return path, nil
}
