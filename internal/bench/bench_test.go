package bench

import (
	"math"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/model"
	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
)

// TestRunRoofline: the bandwidth is measured before every decode repeat,
// and the roofline fraction is the median over repeats of the bytes read
// per second of decoding ÷ that repeat's bandwidth.
func TestRunRoofline(t *testing.T) {
	m, err := model.Open(testutil.Path(t, "models", "tiny", "tiny-rwkv-7v0-834K-FP32.bin"), model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// Bandwidths 10, 30, 20 GB/s: the median fraction is that of 20 GB/s
	// when the three repeats take about the same time.
	bw := []float64{10e9, 30e9, 20e9}
	calls := 0
	r := Run(m, Options{PrefillTokens: 4, DecodeTokens: 4, Repeats: 3, Bandwidth: func() float64 {
		b := bw[calls%3]
		calls++
		return b
	}})
	if calls != 3 {
		t.Fatalf("bandwidth measured %d times, want 3 (once per repeat)", calls)
	}
	if r.BandwidthGBs != 20 {
		t.Errorf("BandwidthGBs = %v, want the median 20", r.BandwidthGBs)
	}
	perSec := float64(r.BytesPerToken) * r.DecodeTokS // at the median step time
	lo, hi := perSec/30e9, perSec/10e9
	if !(r.Roofline > 0) || r.Roofline < lo/2 || r.Roofline > hi*2 {
		t.Errorf("Roofline = %v, outside [%v, %v]", r.Roofline, lo/2, hi*2)
	}
	// Without a probe there is no fraction.
	r = Run(m, Options{PrefillTokens: 4, DecodeTokens: 4, Repeats: 1})
	if r.Roofline != 0 || r.BandwidthGBs != 0 || math.IsNaN(r.Roofline) {
		t.Errorf("no probe: Roofline %v, BandwidthGBs %v, want 0", r.Roofline, r.BandwidthGBs)
	}
}
