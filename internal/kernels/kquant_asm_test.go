//go:build (amd64 || arm64) && !purego

package kernels

import (
	"math/rand/v2"
	"testing"
)

// TestDequantKAsm: the assembly row dequantizers of the k-quants give
// tensor.Dequantize's values (up to the one rounding a fused
// multiply-subtract saves), whole rows at odd offsets.
func TestDequantKAsm(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	for _, dt := range kTypes {
		for _, cols := range []int{256, 512, 2048} {
			for _, quantized := range []bool{false, true} {
				m := kMat(t, rng, dt, 3, cols, 2*(cols/256)+1, quantized)
				for r := 0; r < 3; r++ {
					want := make([]float32, cols)
					got := make([]float32, cols+1)[1:]
					dequantRow(m, r, want)
					dequantRowKAsm(m, r, got)
					for i := range want {
						if !nearlySame(got[i], want[i], 4*absMax(want[i/256*256:i/256*256+256])) {
							t.Fatalf("%s cols=%d row %d: element %d got %v want %v", dt, cols, r, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}
