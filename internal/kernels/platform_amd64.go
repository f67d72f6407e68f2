//go:build amd64 && !purego

package kernels

import (
	"math"

	"github.com/klauspost/cpuid/v2"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// platformImpls lists the SIMD sets this CPU supports, best first.
func platformImpls() []*Impl {
	if !cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3, cpuid.F16C) {
		return nil
	}
	return []*Impl{avx2Impl()}
}

func avx2Impl() *Impl {
	return &Impl{
		Name:   "avx2",
		Why:    "CPU has AVX2, FMA3 and F16C",
		MatVec: matVecAVX2,
		MatMul: matMulGeneric,
		Dot:    dotAVX2Go,
		WKV5:   wkv5Generic,
		WKV7:   wkv7Generic,
	}
}

func dotAVX2Go(a, b []float32) float32 {
	n := len(a)
	if n == 0 {
		return 0
	}
	b = b[:n]
	n8 := n &^ 7
	var s float32
	if n8 > 0 {
		s = dotAVX2(&a[0], &b[0], n8)
	}
	for i := n8; i < n; i++ {
		s += a[i] * b[i]
	}
	return s
}

// q5lut[v][l] = ((v>>l)&1)<<4: the fifth bits of eight Q5 elements.
var q5lut = func() *[256][8]uint32 {
	var t [256][8]uint32
	for v := range t {
		for l := range t[v] {
			t[v][l] = uint32((v>>l)&1) << 4
		}
	}
	return &t
}()

// matVecAVX2 runs the four-row kernels over [lo, hi); the last rows, fewer
// than four, run the same kernel with stride 0. Float rows whose length is
// not a multiple of 8 finish their last columns here in Go.
func matVecAVX2(m *Mat, x, y []float32, lo, hi int) {
	if lo >= hi {
		return
	}
	c := m.Cols
	x = x[:c]
	y = y[:hi]
	var out [4]float32
	switch m.DType {
	case tensor.F32, tensor.F16, tensor.BF16:
		n8 := c &^ 7
		for r := lo; r < hi; {
			k, stride := 4, c
			if r+4 > hi {
				k, stride = 1, 0 // one row at a time
			}
			if n8 > 0 {
				switch m.DType {
				case tensor.F32:
					w := m.f32[r*c : (r+k)*c]
					mvF32x4(&w[0], stride*4, &x[0], n8, &out)
				case tensor.F16:
					w := m.u16[r*c : (r+k)*c]
					mvF16x4(&w[0], stride*2, &x[0], n8, &out)
				default:
					w := m.u16[r*c : (r+k)*c]
					mvBF16x4(&w[0], stride*2, &x[0], n8, &out)
				}
			}
			for i := 0; i < k; i++ {
				var s float32
				if n8 > 0 {
					s = out[i]
				}
				if n8 < c {
					s += floatTail(m, r+i, n8, x)
				}
				y[r+i] = s
			}
			r += k
		}
	case tensor.Q8_0, tensor.Q4_0, tensor.Q4_1, tensor.Q5_0, tensor.Q5_1:
		nb := c / 32
		rb := m.RowBytes
		for r := lo; r < hi; {
			k, stride := 4, rb
			if r+4 > hi {
				k, stride = 1, 0 // one row at a time
			}
			w := m.Data[r*rb : (r+k)*rb]
			switch m.DType {
			case tensor.Q8_0:
				mvQ8_0x4(&w[0], stride, &x[0], nb, &out)
			case tensor.Q4_0:
				mvQ4_0x4(&w[0], stride, &x[0], nb, &out)
			case tensor.Q4_1:
				mvQ4_1x4(&w[0], stride, &x[0], nb, &out)
			case tensor.Q5_0:
				mvQ5_0x4(&w[0], stride, &x[0], nb, &out, q5lut)
			default:
				mvQ5_1x4(&w[0], stride, &x[0], nb, &out, q5lut)
			}
			copy(y[r:r+k], out[:k])
			r += k
		}
	default:
		matVecGeneric(m, x, y, lo, hi)
	}
}

// floatTail is Σ W[r][c]·x[c] for c in [from, Cols) of a float row.
func floatTail(m *Mat, r, from int, x []float32) float32 {
	c := m.Cols
	var s float32
	switch m.DType {
	case tensor.F32:
		for j, w := range m.f32[r*c+from : (r+1)*c] {
			s += w * x[from+j]
		}
	case tensor.F16:
		for j, h := range m.u16[r*c+from : (r+1)*c] {
			s += f16Table[h] * x[from+j]
		}
	default:
		for j, h := range m.u16[r*c+from : (r+1)*c] {
			s += math.Float32frombits(uint32(h)<<16) * x[from+j]
		}
	}
	return s
}
