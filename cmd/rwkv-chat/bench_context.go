package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/rwkv-chat/rwkv-chat/internal/bench"
	"github.com/rwkv-chat/rwkv-chat/internal/format"
	"github.com/rwkv-chat/rwkv-chat/internal/kernels"
	"github.com/rwkv-chat/rwkv-chat/internal/model"
)

// runBenchContext is `bench --context N`: for each target, the cost of a
// decode step and the resident memory at log-spaced positions 1…N (see
// bench.RunContext), as a table, JSON lines, and optionally a plot.
func runBenchContext(o *benchOptions, s *streams, targets []benchTarget) error {
	if o.Plot != "" {
		switch ext := plotExt(o.Plot); ext {
		case ".png", ".svg":
		default:
			return usageErrorf("--plot %s: want a .png or .svg file", o.Plot)
		}
	}
	var series []bench.ContextSeries
	for _, tg := range targets {
		pts, err := benchContextOne(o, s, tg)
		if err != nil {
			return err
		}
		name := tg.name
		if len(pts) > 0 && pts[0].Type != "" {
			name += " " + pts[0].Type
		}
		series = append(series, bench.ContextSeries{Name: name, Points: pts})
	}
	if o.Plot != "" {
		if err := bench.PlotContext(o.Plot, series); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		if !o.JSON {
			fmt.Fprintf(s.Out, "plot written to %s\n", o.Plot)
		}
	}
	return nil
}

func plotExt(path string) string {
	for i := len(path) - 1; i >= 0 && path[i] != '/'; i-- {
		if path[i] == '.' {
			b := []byte(path[i:])
			for j, c := range b {
				if c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return ""
}

// benchContextOne measures one model file. It maps the file itself (rather
// than model.Open) so that it can fault in every page before measuring.
func benchContextOne(o *benchOptions, s *streams, tg benchTarget) ([]bench.ContextPoint, error) {
	runtime.GC()
	debug.FreeOSMemory()
	bench.ResetPeakRSS()
	f, err := format.Open(tg.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := model.FromTensors(f.Tensors, f.Transformed, model.Options{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tg.path, err)
	}
	defer m.Close()
	bench.Prefault(f.Tensors)
	typ := tg.typ
	if typ == "" {
		typ = strings.ToLower(m.DominantType().String()) // lead: dominant by bytes
	}
	c := m.Cfg
	if !o.JSON {
		fmt.Fprintf(s.Out, "%s (%s): RWKV-%s, %d layers × %d, vocab %d; %d threads, kernels %s\n",
			tg.name, typ, c.Version, c.Layers, c.Embd, c.Vocab, kernels.Default().Threads(), kernels.Active().Name)
		fmt.Fprintf(s.Out, "state %s (constant); transformer KV cache = 2 × %d layers × %d × position × 2 bytes\n",
			formatBytes(int64(c.StateFloats())*4), c.Layers, c.Embd)
		fmt.Fprintf(s.Out, "%10s %9s %9s %11s %11s %11s %11s %5s %13s\n",
			"position", "ms/token", "tok/s", "RSS", "RSS anon", "RSS file", "peak RSS", "GCs", "KV cache")
	}
	var werr error
	pts := bench.RunContext(m, bench.ContextOptions{
		Length: o.Context,
		Steps:  8,
		OnPoint: func(p bench.ContextPoint) {
			p.Model, p.Type = tg.name, typ
			if o.JSON {
				b, _ := json.Marshal(p)
				_, werr = fmt.Fprintf(s.Out, "%s\n", b)
				return
			}
			_, werr = fmt.Fprintf(s.Out, "%10d %9.2f %9.1f %11s %11s %11s %11s %5d %13s\n", p.Position, p.MsPerToken, p.TokS,
				formatBytes(p.RSS), formatBytes(p.RSSAnon), formatBytes(p.RSSFile), formatBytes(p.PeakRSS), p.NumGC,
				formatBytes(p.KVCacheBytes))
			if p.PairedMs > 0 {
				_, werr = fmt.Fprintf(s.Out, "timed alternately step by step: position %d %.2f ms/token, position %d %.2f ms/token; median ratio %.3f\n",
					p.PairedRefPosition, p.PairedRefMs, p.Position, p.PairedMs, p.PairedRatio)
			}
		},
	})
	for i := range pts {
		pts[i].Model, pts[i].Type = tg.name, typ
	}
	return pts, werr
}
