package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

var (
	floatTypes = []tensor.DType{tensor.F32, tensor.F16, tensor.BF16}
	quantTypes = []tensor.DType{tensor.Q8_0, tensor.Q4_0, tensor.Q4_1, tensor.Q5_0, tensor.Q5_1}
	kTypes     = []tensor.DType{tensor.Q4_K, tensor.Q5_K, tensor.Q6_K} // columns in multiples of 256
)

// simdSets are the sets other than the reference on this CPU.
func simdSets(t testing.TB) []*Impl {
	var out []*Impl
	for _, n := range Names() {
		if im := Get(n); im != Generic() {
			out = append(out, im)
		}
	}
	if len(out) == 0 {
		t.Logf("no SIMD kernel set on this CPU (sets: %v); comparing generic with itself", Names())
		out = append(out, Generic())
	}
	return out
}

func randVec(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// randWeights fills the bytes of rows×cols weights of type dt: floats
// near N(0,1), quant blocks with random codes and scales of 0.01..0.1
// (of either sign, as real files have).
func randWeights(rng *rand.Rand, dt tensor.DType, rows, cols int) []byte {
	n, err := dt.Bytes(int64(rows * cols))
	if err != nil {
		panic(err)
	}
	b := make([]byte, n)
	switch dt {
	case tensor.F32:
		for i := 0; i < rows*cols; i++ {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(rng.NormFloat64())))
		}
		return b
	case tensor.F16:
		for i := 0; i < rows*cols; i++ {
			binary.LittleEndian.PutUint16(b[2*i:], tensor.F32ToF16(float32(rng.NormFloat64())))
		}
		return b
	case tensor.BF16:
		for i := 0; i < rows*cols; i++ {
			binary.LittleEndian.PutUint16(b[2*i:], tensor.F32ToBF16(float32(rng.NormFloat64())))
		}
		return b
	}
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	bb := dt.BlockBytes()
	scale := func() uint16 {
		v := float32(0.01 + 0.09*rng.Float64())
		if rng.IntN(4) == 0 {
			v = -v
		}
		return tensor.F32ToF16(v)
	}
	for off := 0; off < len(b); off += bb {
		switch dt {
		case tensor.Q6_K: // d is last; the int8 sub-block scales stay random
			binary.LittleEndian.PutUint16(b[off+208:], kScale(rng))
			continue
		case tensor.Q4_K, tensor.Q5_K: // d, dmin; 6-bit scales stay random
			binary.LittleEndian.PutUint16(b[off:], kScale(rng))
			binary.LittleEndian.PutUint16(b[off+2:], kScale(rng))
			continue
		}
		binary.LittleEndian.PutUint16(b[off:], scale())
		if dt == tensor.Q4_1 || dt == tensor.Q5_1 {
			binary.LittleEndian.PutUint16(b[off+2:], scale())
		}
	}
	return b
}

// kScale is a k-quant super-block scale (d or dmin): 0.0002..0.002 of
// either sign, so that weights (d·sc·q with sc up to 63 or 127) are of
// the order of those of the other types.
func kScale(rng *rand.Rand) uint16 {
	v := float32(0.0002 + 0.0018*rng.Float64())
	if rng.IntN(4) == 0 {
		v = -v
	}
	return tensor.F32ToF16(v)
}

// newTestMat builds a matrix whose data starts off bytes into a buffer.
func newTestMat(t testing.TB, dt tensor.DType, rows, cols int, data []byte, off int) *Mat {
	buf := make([]byte, len(data)+off)
	copy(buf[off:], data)
	m, err := NewMat(dt, rows, cols, buf[off:])
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// absDot is Σ|W[r][c]·x[c]| in float64, the scale for relative errors.
func absDot(m *Mat, r int, x []float32) float64 {
	row := make([]float32, m.Cols)
	if err := tensor.Dequantize(m.DType, m.Row(r), row); err != nil {
		panic(err)
	}
	var s float64
	for i, w := range row {
		s += math.Abs(float64(w) * float64(x[i]))
	}
	return s
}

// closeRel reports whether got and want agree within tol·scale, with NaN
// matching NaN and infinities matching exactly.
func closeRel(got, want float32, scale, tol float64) bool {
	g, w := float64(got), float64(want)
	switch {
	case math.IsNaN(w):
		return math.IsNaN(g)
	case math.IsInf(w, 0) || math.IsInf(g, 0):
		return g == w
	}
	return math.Abs(g-w) <= tol*scale+1e-30
}

func offsetVec(v []float32, off int) []float32 {
	buf := make([]float32, len(v)+off)
	copy(buf[off:], v)
	return buf[off:]
}

func describe(im *Impl, dt tensor.DType, rows, cols int) string {
	return fmt.Sprintf("%s %s %dx%d", im.Name, dt, rows, cols)
}
