package tensor

import (
	"math"
	"testing"
)

// TestUnalignedViews: a view at an odd offset reads the same values as a
// decoder of the bytes, whether it aliases (amd64/arm64) or copies.
func TestUnalignedViews(t *testing.T) {
	buf := make([]byte, 4*9+3)
	for off := 0; off < 4; off++ {
		b := buf[off : off+4*9]
		for i := 0; i < 9; i++ {
			v := math.Float32bits(float32(i) * 1.5)
			b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		}
		f := AsFloat32(b)
		u := AsUint16(b)
		for i := 0; i < 9; i++ {
			if f[i] != float32(i)*1.5 {
				t.Fatalf("offset %d: f[%d] = %g", off, i, f[i])
			}
		}
		for i := range u {
			if u[i] != uint16(b[2*i])|uint16(b[2*i+1])<<8 {
				t.Fatalf("offset %d: u[%d] = %x", off, i, u[i])
			}
		}
	}
}
