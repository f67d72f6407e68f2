//go:build amd64 && !purego

package kernels

import (
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

func TestDecodeTileAVX2(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, dt := range quantTypes {
		for _, cols := range []int{32, 64, 320} {
			for k := 1; k <= 4; k++ {
				m := newTestMat(t, dt, 5, cols, randWeights(rng, dt, 5, cols), 1)
				nb := cols / 32
				s1 := make([]byte, qScratchBytes(cols))
				s2 := make([]byte, qScratchBytes(cols))
				for i := range s1 {
					s1[i], s2[i] = 1, 2
				}
				dw1 := unsafe.Slice((*float32)(unsafe.Pointer(&s1[nb*256])), 8*nb)
				dw2 := unsafe.Slice((*float32)(unsafe.Pointer(&s2[nb*256])), 8*nb)
				decodeTileGo(m, 1, k, s1, dw1)
				decodeTileAVX2(m, 1, k, s2, dw2)
				bs := 128
				if dt == tensor.Q8_0 {
					bs = 256
				}
				for i := range s1[:nb*256+32*nb] {
					if i >= nb*bs && i < nb*256 {
						continue // unused between codes and scales
					}
					if s1[i] != s2[i] {
						t.Fatalf("%s cols=%d k=%d: tiles differ at %d: go %#x asm %#x", dt, cols, k, i, s1[i], s2[i])
					}
				}
			}
		}
	}
}
