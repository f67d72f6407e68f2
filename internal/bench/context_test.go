package bench

import (
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestContextPositions(t *testing.T) {
	for n, want := range map[int][]int{
		1:      {1},
		2:      {1, 2},
		7:      {1, 2, 5, 7},
		10:     {1, 2, 5, 10},
		3000:   {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 3000},
		100000: {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000},
	} {
		if got := ContextPositions(n); !reflect.DeepEqual(got, want) {
			t.Errorf("ContextPositions(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestTransformerKVBytes(t *testing.T) {
	// 0.1b shape: 12 layers × 768 at 100k tokens = 2·12·768·100000·2 bytes.
	if got := TransformerKVBytes(12, 768, 100000); got != 3_686_400_000 {
		t.Errorf("got %d", got)
	}
}

func TestPlotContextFormats(t *testing.T) {
	var pts []ContextPoint
	for _, p := range ContextPositions(20000) {
		pts = append(pts, ContextPoint{Position: p, MsPerToken: 10 + float64(p%3), RSS: 500 << 20, StateBytes: 2 << 20,
			KVCacheBytes: TransformerKVBytes(12, 768, p)})
	}
	dir := t.TempDir()
	for _, name := range []string{"a.png", "a.svg"} {
		path := filepath.Join(dir, name)
		if err := PlotContext(path, []ContextSeries{{Name: "x", Points: pts}, {Name: "y", Points: pts[:5]}}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		st, err := os.Stat(path)
		if err != nil || st.Size() < 1000 {
			t.Fatalf("%s: %v", name, err)
		}
	}
	f, err := os.Open(filepath.Join(dir, "a.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("PNG does not decode: %v", err)
	}
	if err := PlotContext(filepath.Join(dir, "b.png"), nil); err == nil {
		t.Error("empty plot accepted")
	}
	if err := PlotContext(filepath.Join(dir, "noext"), []ContextSeries{{Name: "x", Points: pts}}); err == nil {
		t.Error("file without extension accepted")
	}
}
