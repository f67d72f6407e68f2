package bench

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ContextSeries is one model's context run, for PlotContext.
type ContextSeries struct {
	Name   string // legend label, e.g. "v7-0.1b f16"
	Points []ContextPoint
}

// PlotContext draws a context run into path (.png or .svg; other
// extensions gonum/plot knows also work): on top, the time per token
// against the position; below, on one logarithmic memory axis, the resident
// memory, the RWKV state, and the KV cache a transformer of the same width
// and depth would hold (TransformerKVBytes). Both x axes are logarithmic.
func PlotContext(path string, series []ContextSeries) error {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	if ext == "" {
		return fmt.Errorf("plot file %s has no extension (want .png or .svg)", path)
	}
	var nonEmpty []ContextSeries
	for _, s := range series {
		if len(s.Points) > 0 {
			nonEmpty = append(nonEmpty, s)
		}
	}
	if len(nonEmpty) == 0 {
		return fmt.Errorf("nothing to plot")
	}
	series = nonEmpty

	top := plot.New()
	top.Title.Text = "RWKV: cost of one decode step along the context"
	top.Y.Label.Text = "time per token (ms)"
	top.X.Scale = plot.LogScale{}
	top.X.Tick.Marker = decadeTicks{format: countLabel}
	top.Legend.Top = true
	top.Legend.Left = true
	top.Add(plotter.NewGrid())

	bot := plot.New()
	bot.Title.Text = "memory along the context"
	bot.X.Label.Text = "position in the context (tokens)"
	bot.Y.Label.Text = "memory (bytes)"
	bot.X.Scale = plot.LogScale{}
	bot.Y.Scale = plot.LogScale{}
	bot.X.Tick.Marker = decadeTicks{format: countLabel}
	bot.Y.Tick.Marker = decadeTicks{format: byteLabel}
	bot.Legend.Top = true
	bot.Legend.Left = true
	bot.Add(plotter.NewGrid())

	maxMs, minX, maxX := 0.0, math.Inf(1), 0.0
	minY, maxY := math.Inf(1), 0.0
	for i, s := range series {
		col := plotutil.Color(i)
		n := len(s.Points)
		tms, rss, kv, st := make(plotter.XYs, n), make(plotter.XYs, n), make(plotter.XYs, n), make(plotter.XYs, n)
		var tmin plotter.XYs
		for j, p := range s.Points {
			x := float64(p.Position)
			tms[j] = plotter.XY{X: x, Y: p.MsPerToken}
			if p.MinMs > 0 {
				tmin = append(tmin, plotter.XY{X: x, Y: p.MinMs})
			}
			rss[j] = plotter.XY{X: x, Y: float64(max(p.RSS, 1))}
			kv[j] = plotter.XY{X: x, Y: float64(max(p.KVCacheBytes, 1))}
			st[j] = plotter.XY{X: x, Y: float64(max(p.StateBytes, 1))}
			maxMs = math.Max(maxMs, p.MsPerToken)
			minX, maxX = math.Min(minX, x), math.Max(maxX, x)
			for _, v := range []float64{rss[j].Y, kv[j].Y, st[j].Y} {
				minY, maxY = math.Min(minY, v), math.Max(maxY, v)
			}
		}
		// Colours name the models (top legend); line styles name the
		// quantities (bottom legend).
		if err := addLine(top, tms, col, nil, s.Name+": median step", true); err != nil {
			return err
		}
		if len(tmin) == n {
			if err := addLine(top, tmin, col, dotted, s.Name+": fastest step", false); err != nil {
				return err
			}
		}
		if err := addLine(bot, rss, col, nil, "", true); err != nil {
			return err
		}
		if err := addLine(bot, st, col, dotted, "", false); err != nil {
			return err
		}
		if err := addLine(bot, kv, col, dashed, "", false); err != nil {
			return err
		}
	}
	for _, e := range []struct {
		label  string
		dashes []vg.Length
	}{
		{"resident memory of the process (RSS)", nil},
		{"RWKV recurrent state (constant)", dotted},
		{"KV cache of a transformer of the same depth and width: 2·layers·n_embd·position·2 bytes", dashed},
	} {
		l, err := plotter.NewLine(plotter.XYs{{X: 1, Y: 1}})
		if err != nil {
			return err
		}
		l.Color, l.Width, l.Dashes = color.Gray{Y: 60}, vg.Points(1.5), e.dashes
		bot.Legend.Add(e.label, l)
	}
	// The same x range on both panels; time from 0 so flatness shows.
	lo, hi := math.Pow(10, math.Floor(math.Log10(minX))), math.Pow(10, math.Ceil(math.Log10(maxX)))
	top.X.Min, top.X.Max, bot.X.Min, bot.X.Max = lo, hi, lo, hi
	top.Y.Min, top.Y.Max = 0, maxMs*(1.15+0.24*float64(len(series))) // room for the legend
	bot.Y.Min = math.Pow(10, math.Floor(math.Log10(minY)))
	hi10 := math.Ceil(math.Log10(maxY))
	bot.Y.Max = math.Pow(10, hi10+math.Ceil(0.3*(hi10-math.Log10(bot.Y.Min)))) // room for the legend

	w, h := 8*vg.Inch, 7.5*vg.Inch
	c, err := draw.NewFormattedCanvas(w, h, ext)
	if err != nil {
		return err
	}
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4),
		PadLeft: vg.Points(4), PadRight: vg.Points(10), PadY: vg.Points(14)}
	plots := [][]*plot.Plot{{top}, {bot}}
	canvases := plot.Align(plots, tiles, dc)
	top.Draw(canvases[0][0])
	bot.Draw(canvases[1][0])

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

func addLine(p *plot.Plot, xys plotter.XYs, col color.Color, dashes []vg.Length, label string, points bool) error {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	l.Color = col
	l.Width = vg.Points(1.5)
	l.Dashes = dashes
	p.Add(l)
	if points {
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return err
		}
		sc.Color = col
		sc.Radius = vg.Points(2)
		p.Add(sc)
		if label != "" {
			p.Legend.Add(label, l, sc)
		}
		return nil
	}
	if label != "" {
		p.Legend.Add(label, l)
	}
	return nil
}

var (
	dotted = []vg.Length{vg.Points(1), vg.Points(3)}
	dashed = []vg.Length{vg.Points(6), vg.Points(3)}
)

// decadeTicks marks the powers of ten of a log axis, labelled by format,
// with unlabelled minor ticks at 2…9 × each power.
type decadeTicks struct{ format func(float64) string }

func (d decadeTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
		base := math.Pow(10, e)
		for k := 1; k <= 9; k++ {
			v := base * float64(k)
			if v < min*(1-1e-9) || v > max*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if k == 1 {
				t.Label = d.format(v)
			}
			ts = append(ts, t)
		}
	}
	return ts
}

// countLabel prints 1, 10, 100, 1k, 10k, 100k, 1M.
func countLabel(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

// byteLabel prints decimal sizes: 1 kB, 10 MB, 1 GB.
func byteLabel(v float64) string {
	for _, u := range []struct {
		f float64
		s string
	}{{1e12, "TB"}, {1e9, "GB"}, {1e6, "MB"}, {1e3, "kB"}} {
		if v >= u.f {
			return fmt.Sprintf("%g %s", v/u.f, u.s)
		}
	}
	return fmt.Sprintf("%g B", v)
}
