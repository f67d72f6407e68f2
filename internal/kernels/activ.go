package kernels

import "math"

// Element-wise activations. The SIMD versions use a polynomial exp (about
// 1 ulp) where the generic one calls math.Exp; both agree to ~1e-6
// relative.

// Exp sets out[i] = e^x[i]; out may alias x.
func Exp(out, x []float32) { active.Exp(out[:len(x)], x) }

// Sigmoid sets out[i] = 1/(1+e^−x[i]); out may alias x.
func Sigmoid(out, x []float32) { active.Sigmoid(out[:len(x)], x) }

// ReluSq sets x[i] = max(x[i], 0)² in place; NaN stays NaN.
func ReluSq(x []float32) { active.ReluSq(x) }

func reluSqGeneric(x []float32) {
	for i, v := range x {
		if v < 0 {
			v = 0
		}
		x[i] = v * v
	}
}

func expGeneric(out, x []float32) {
	out = out[:len(x)]
	for i, v := range x {
		out[i] = float32(math.Exp(float64(v)))
	}
}

func sigmoidGeneric(out, x []float32) {
	out = out[:len(x)]
	for i, v := range x {
		out[i] = float32(1 / (1 + math.Exp(-float64(v))))
	}
}
