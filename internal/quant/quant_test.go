package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// TestRoundTrip: dequantize(quantize(x)) stays within half a quantization
// step of x (plus the fp16 rounding of the scale) for every type.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	steps := map[tensor.DType]float64{
		tensor.Q4_0: 8, tensor.Q4_1: 15, tensor.Q5_0: 16, tensor.Q5_1: 31, tensor.Q8_0: 127,
		tensor.F16: 1024, tensor.BF16: 128,
	}
	for dt, levels := range steps {
		x := make([]float32, 32*64)
		for i := range x {
			x[i] = float32(rng.NormFloat64()) * float32(1+i%7)
		}
		q, err := Quantize(dt, x)
		if err != nil {
			t.Fatal(err)
		}
		y := make([]float32, len(x))
		if err := tensor.Dequantize(dt, q, y); err != nil {
			t.Fatal(err)
		}
		for b := 0; b < len(x)/32; b++ {
			var amax float64
			for _, v := range x[b*32 : b*32+32] {
				amax = math.Max(amax, math.Abs(float64(v)))
			}
			// half a step (range/levels), doubled for the asymmetric types'
			// range and the fp16 scale; relative for the float types.
			tol := amax / levels * 1.01
			if dt == tensor.Q4_1 || dt == tensor.Q5_1 {
				tol *= 2
			}
			for i := b * 32; i < b*32+32; i++ {
				if d := math.Abs(float64(x[i] - y[i])); d > tol {
					t.Fatalf("%s: x[%d] = %g came back as %g (|Δ| %g > %g)", dt, i, x[i], y[i], d, tol)
				}
			}
		}
	}
}

// TestKnownBlock pins ggml's rounding on a hand-made block.
func TestKnownBlock(t *testing.T) {
	x := make([]float32, 32)
	for i := range x {
		x[i] = float32(i) - 16 // −16 … 15
	}
	q, _ := Quantize(tensor.Q8_0, x)
	// amax 16 → d = 16/127; −16 → −127, 15 → round(15·127/16) = 119.
	if int8(q[2]) != -127 || int8(q[33]) != 119 {
		t.Fatalf("Q8_0 ends %d %d, want -127 119", int8(q[2]), int8(q[33]))
	}
	q, _ = Quantize(tensor.Q4_0, x)
	// max = −16 → d = 2; x/d + 8.5 → −16 → 0, 15 → min(15, 16) = 15.
	if tensor.F16ToF32(uint16(q[0])|uint16(q[1])<<8) != 2 || q[2]&0xf != 0 || q[17]>>4 != 15 {
		t.Fatalf("Q4_0 block %v", q)
	}
}

func TestErrors(t *testing.T) {
	if _, err := Quantize(tensor.Q8_0, make([]float32, 33)); err == nil {
		t.Fatal("33 elements accepted for Q8_0")
	}
}
