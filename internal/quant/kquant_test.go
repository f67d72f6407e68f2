package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/kernels"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// kData makes n values whose magnitude changes from one 16/32-element
// sub-block to the next (so the 6-bit sub-block scales span their range),
// with some all-positive and some all-negative sub-blocks.
func kData(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for b := 0; b < n/16; b++ {
		scale := float32(math.Exp(rng.NormFloat64() * 1.5))
		shift := float32(0)
		switch b % 7 {
		case 3:
			shift = 3 * scale
		case 5:
			shift = -3 * scale
		}
		for i := 16 * b; i < 16*b+16; i++ {
			x[i] = float32(rng.NormFloat64())*scale + shift
		}
	}
	return x
}

// TestKQuantRoundTrip: dequantize(quantize(x)) stays within one level of
// the super-block's coarsest sub-block (the 6-bit or 8-bit scale rounding
// can cost up to a level where a sub-block's scale is small), and the RMS
// error is a fraction of a level.
func TestKQuantRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct {
		dt     tensor.DType
		levels float64 // steps across a sub-block's range
		sub    int
	}{{tensor.Q4_K, 15, 32}, {tensor.Q5_K, 31, 32}, {tensor.Q6_K, 63, 16}} {
		x := kData(rng, 256*64)
		q, err := Quantize(c.dt, x)
		if err != nil {
			t.Fatal(err)
		}
		if len(q) != 64*c.dt.BlockBytes() {
			t.Fatalf("%s: %d bytes", c.dt, len(q))
		}
		y := make([]float32, len(x))
		if err := tensor.Dequantize(c.dt, q, y); err != nil {
			t.Fatal(err)
		}
		var sumSq, sumStep float64
		for b := 0; b < len(x)/256; b++ {
			blk := x[256*b : 256*b+256]
			// the coarsest level in this super-block
			var step float64
			for s := 0; s < 256/c.sub; s++ {
				lo, hi := minMax(blk[s*c.sub : (s+1)*c.sub])
				r := float64(hi) - math.Min(float64(lo), 0)
				if c.dt == tensor.Q6_K {
					r = 2 * math.Max(math.Abs(float64(lo)), math.Abs(float64(hi)))
				}
				step = math.Max(step, r/c.levels)
			}
			for i := 256 * b; i < 256*b+256; i++ {
				d := math.Abs(float64(x[i] - y[i]))
				if d > step*1.01 {
					t.Fatalf("%s: x[%d] = %g came back as %g (|Δ| %g > one level %g)", c.dt, i, x[i], y[i], d, step)
				}
				sumSq += d * d
				sumStep += step * step
			}
		}
		rel := math.Sqrt(sumSq / sumStep)
		t.Logf("%s: RMS error %.3f of the coarsest level", c.dt, rel)
		if rel > 0.35 {
			t.Errorf("%s: RMS error %.3f of a level, want ≤ 0.35", c.dt, rel)
		}
	}
}

// TestKQuantKnownBlocks pins the encoders on blocks whose encoding is
// forced: values that are exact levels come back exactly.
func TestKQuantKnownBlocks(t *testing.T) {
	// Values that are exact levels of each type come back exactly (up to
	// the fp16 rounding of the super-block scale d): Q4_K 0, 0.5, …, 7.5
	// in every sub-block (scale 0.5 = 63·d, min 0); Q5_K 0, 0.25, …, 7.75;
	// Q6_K −8, −7, …, 7 (scale 0.25, level −32 … 28).
	exact := map[tensor.DType]func(i int) float32{
		tensor.Q4_K: func(i int) float32 { return 0.5 * float32(i%16) },
		tensor.Q5_K: func(i int) float32 { return 0.25 * float32(i%32) },
		tensor.Q6_K: func(i int) float32 { return 0.25 * float32(i%16*4-32) },
	}
	x := make([]float32, 256)
	for _, dt := range []tensor.DType{tensor.Q4_K, tensor.Q5_K, tensor.Q6_K} {
		for i := range x {
			x[i] = exact[dt](i)
		}
		q, err := Quantize(dt, x)
		if err != nil {
			t.Fatal(err)
		}
		y := make([]float32, 256)
		if err := tensor.Dequantize(dt, q, y); err != nil {
			t.Fatal(err)
		}
		for i := range x {
			if math.Abs(float64(x[i]-y[i])) > 5e-4*math.Abs(float64(x[i])) {
				t.Fatalf("%s: x[%d] = %g came back as %g", dt, i, x[i], y[i])
			}
		}
	}
	for i := range x {
		x[i] = exact[tensor.Q4_K](i)
	}
	q, _ := Quantize(tensor.Q4_K, x)
	// nibble layout: byte l of the first 32 holds element l (low) and
	// element l+32 (high); both are l%16.
	for l := 0; l < 32; l++ {
		if got, want := q[16+l], byte(l%16|(l%16)<<4); got != want {
			t.Fatalf("Q4_K qs[%d] = %#x, want %#x", l, got, want)
		}
	}
	// all-zero input gives an all-zero block for every k-quant
	for _, dt := range []tensor.DType{tensor.Q4_K, tensor.Q5_K, tensor.Q6_K} {
		q, _ := Quantize(dt, make([]float32, 256))
		y := make([]float32, 256)
		_ = tensor.Dequantize(dt, q, y)
		for i, v := range y {
			if v != 0 {
				t.Fatalf("%s: zero input decodes to y[%d] = %g", dt, i, v)
			}
		}
	}
}

// TestKQuantMatVec: the kernels' matrix-vector product on k-quant
// matrices equals dequantize-then-dot, for the generic set and the active
// one (which falls back to generic code for k-quants today).
func TestKQuantMatVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const rows, cols = 13, 768
	for _, dt := range []tensor.DType{tensor.Q4_K, tensor.Q5_K, tensor.Q6_K} {
		w := kData(rng, rows*cols)
		q, err := Quantize(dt, w)
		if err != nil {
			t.Fatal(err)
		}
		m, err := kernels.NewMat(dt, rows, cols, q)
		if err != nil {
			t.Fatal(err)
		}
		deq := make([]float32, rows*cols)
		if err := tensor.Dequantize(dt, q, deq); err != nil {
			t.Fatal(err)
		}
		x := make([]float32, cols)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		want := make([]float64, rows)
		var scale float64
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				want[r] += float64(deq[r*cols+c]) * float64(x[c])
				scale += math.Abs(float64(deq[r*cols+c]) * float64(x[c]))
			}
		}
		scale /= rows
		for _, im := range []*kernels.Impl{kernels.Generic(), kernels.Active()} {
			y := make([]float32, rows)
			im.MatVec(m, x, y, 0, rows)
			for r := range y {
				if d := math.Abs(float64(y[r]) - want[r]); d > 1e-5*scale {
					t.Fatalf("%s %s: row %d = %g, dequantize-then-dot gives %g", im.Name, dt, r, y[r], want[r])
				}
			}
			// MatMul with T = 3 tokens agrees too
			T := 3
			xs := make([]float32, T*cols)
			for tt := 0; tt < T; tt++ {
				copy(xs[tt*cols:], x)
			}
			ym := make([]float32, T*rows)
			im.MatMul(m, xs, T, ym, rows, 0, rows, make([]float32, cols))
			for tt := 0; tt < T; tt++ {
				for r := 0; r < rows; r++ {
					if d := math.Abs(float64(ym[tt*rows+r]) - want[r]); d > 1e-5*scale {
						t.Fatalf("%s %s MatMul: token %d row %d = %g, want %g", im.Name, dt, tt, r, ym[tt*rows+r], want[r])
					}
				}
			}
		}
	}
}

func TestKQuantErrors(t *testing.T) {
	for _, dt := range []tensor.DType{tensor.Q4_K, tensor.Q5_K, tensor.Q6_K} {
		if _, err := Quantize(dt, make([]float32, 128)); err == nil {
			t.Errorf("%s: 128 elements accepted", dt)
		}
	}
}
