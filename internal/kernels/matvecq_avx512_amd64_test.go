//go:build amd64 && !purego

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/cpuid/v2"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

type mvqKernel func(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32, pf int)

type mvqGrouped func(w *byte, stride int, q *byte, ds *float32, n int, y *float32, tbl *[65536]float32, pf int, groups, step, ystride, ystep int)

// one runs a grouped kernel on one group, storing to y[0..3].
func one(k mvqGrouped) mvqKernel {
	return func(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32, pf int) {
		k(w, stride, q, ds, n, &y[0], tbl, pf, 1, 0, 4, 0)
	}
}

// mvqKernels are the avx2 and VNNI kernels of each type, the VNNI ones on
// one group per call.
var mvqKernels = map[tensor.DType][2]mvqKernel{
	tensor.Q8_0: {mvqQ8_0x4, one(mvqQ8_0x4V)},
	tensor.Q4_0: {mvqQ4_0x4, one(mvqQ4_0x4V)},
	tensor.Q4_1: {mvqQ4_1x4, one(mvqQ4_1x4V)},
	tensor.Q5_0: {mvqQ5_0x4, one(mvqQ5_0x4V)},
	tensor.Q5_1: {mvqQ5_1x4, one(mvqQ5_1x4V)},
}

// runMVQ runs kernel f over all rows of m as matVecQAsm does.
func runMVQ(f mvqKernel, m *Mat, v *qVec) []float32 {
	y := make([]float32, m.Rows)
	rb := m.RowBytes
	var out [4]float32
	for r := 0; r < m.Rows; {
		k, stride := 4, rb
		if r+4 > m.Rows {
			k, stride = 1, 0
		}
		f(&m.Data[r*rb], stride, &v.q[0], &v.ds[0], v.nb, &out, f16Table, 8*rb)
		copy(y[r:r+k], out[:k])
		r += k
	}
	return y
}

// TestMatVecQVNNI: the VNNI Q8_0 kernel gives bit for bit (NaN for NaN)
// the generic twin's results and the Q5_0/Q5_1 ones the avx2 kernels'
// (they follow that arithmetic), and every VNNI kernel agrees with the generic
// twin and with the avx2 kernel within float rounding, for block counts
// 1…40, 64, 129, rows 1…9 (the stride-0 tail), unaligned weights, extreme
// codes and activations, and non-finite scales (which must stay
// non-finite).
func TestMatVecQVNNI(t *testing.T) {
	if !cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512VL, cpuid.AVX512VNNI) {
		t.Skip("CPU lacks AVX-512 BW/VL/VNNI")
	}
	rng := rand.New(rand.NewPCG(41, 42))
	var nbs []int
	for nb := 1; nb <= 40; nb++ {
		nbs = append(nbs, nb)
	}
	nbs = append(nbs, 64, 129)
	for _, dt := range quantTypes {
		ks := mvqKernels[dt]
		bb := dt.BlockBytes()
		for _, nb := range nbs {
			cols := nb * 32
			for rows := 1; rows <= 9; rows++ {
				for variant := 0; variant < 4; variant++ {
					data := randWeights(rng, dt, rows, cols)
					x := randVec(rng, cols)
					switch variant {
					case 1: // extreme codes and activations: no saturation
						for i := range data {
							if i%bb >= 2 {
								data[i] = []byte{0x00, 0x80, 0xff, 0x7f}[rng.IntN(4)]
							}
						}
						for i := range x {
							x[i] = float32(1 - 2*rng.IntN(2))
						}
					case 2: // non-finite weight scales
						for i := 0; i < 1+rows*nb/8; i++ {
							o := rng.IntN(rows*nb) * bb
							if qWeightsOf(dt).hasM && rng.IntN(2) == 0 {
								o += 2 // m rather than d
							}
							h := []uint16{0x7c00, 0xfc00, 0x7e00}[rng.IntN(3)]
							data[o], data[o+1] = byte(h), byte(h>>8)
						}
					case 3: // non-finite activations
						x[rng.IntN(cols)] = []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}[rng.IntN(3)]
					}
					m := newTestMat(t, dt, rows, cols, data, (rows+nb+variant)%4)
					v := quantVec(Generic(), x)
					want := make([]float32, rows)
					matVecQGeneric(m, v, want, 0, rows)
					ref := runMVQ(ks[0], m, v)
					got := runMVQ(ks[1], m, v)
					for r := range got {
						g, w := got[r], want[r]
						if dt == tensor.Q8_0 && !sameFloat(g, w) {
							t.Fatalf("%s %d×%d variant %d row %d: VNNI %v, generic %v", dt, rows, cols, variant, r, g, w)
						}
						if (dt == tensor.Q5_0 || dt == tensor.Q5_1) && !sameFloat(g, ref[r]) {
							t.Fatalf("%s %d×%d variant %d row %d: VNNI %v, avx2 %v", dt, rows, cols, variant, r, g, ref[r])
						}
						// Non-finite results may differ between lane and sum
						// scaling (an infinite d times a zero lane is NaN),
						// but a non-finite result stays non-finite.
						if fin := func(f float32) bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }; !fin(w) || !fin(ref[r]) {
							if fin(g) {
								t.Fatalf("%s %d×%d variant %d row %d: VNNI %v finite, avx2 %v, generic %v", dt, rows, cols, variant, r, g, ref[r], w)
							}
							continue
						}
						sc := qTermScale(m, r, v)
						if !closeRel(g, w, sc, 1e-5) || !closeRel(g, ref[r], sc, 1e-5) {
							t.Fatalf("%s %d×%d variant %d row %d: VNNI %v, avx2 %v, generic %v (scale %g)", dt, rows, cols, variant, r, g, ref[r], w, sc)
						}
					}
				}
			}
		}
	}
}

// sameFloat reports bit equality, any NaN equal to any NaN.
func sameFloat(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (math.IsNaN(float64(a)) && math.IsNaN(float64(b)))
}
