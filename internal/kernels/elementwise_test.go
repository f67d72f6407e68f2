package kernels

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// lerpScale bounds the rounding of a + (b−a)·mu.
func lerpScale(a, b, mu float32) float64 {
	return math.Abs(float64(a)) + math.Abs(float64(b-a))*math.Abs(float64(mu)) + math.Abs(float64(b))*math.Abs(float64(mu))
}

// lnScale bounds the rounding of LayerNorm's element i: the sums' rounding
// moves the mean by about |μ|+σ over the row, and the element by that times
// inv·|w|.
func lnScale(x, w, b []float32, i int, eps float32) float64 {
	var mean, vr float64
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	for _, v := range x {
		vr += (float64(v) - mean) * (float64(v) - mean)
	}
	vr /= float64(len(x))
	inv := 1 / math.Sqrt(vr+float64(eps))
	return (math.Abs(float64(x[i])-mean)+math.Abs(mean)+math.Sqrt(vr))*inv*math.Abs(float64(w[i])) + math.Abs(float64(b[i]))
}

// checkElementwise compares im's Lerp and LayerNorm with the generic twins
// on one input, in place too.
func checkElementwise(t *testing.T, im *Impl, a, b, mu, w []float32, eps float32) {
	t.Helper()
	n := len(a)
	fin := finiteAll(a) && finiteAll(b) && finiteAll(mu) && finiteAll(w)
	want, got := make([]float32, n), make([]float32, n)
	Generic().Lerp(want, a, b, mu)
	im.Lerp(got, a, b, mu)
	for i := range got {
		if !agree(got[i], want[i], lerpScale(a[i], b[i], mu[i]), 1e-6, fin) {
			t.Fatalf("%s Lerp n=%d [%d]: a %v b %v mu %v: got %v want %v", im.Name, n, i, a[i], b[i], mu[i], got[i], want[i])
		}
	}
	inPlace := clone(a)
	im.Lerp(inPlace, inPlace, b, mu)
	if i := sameBits(inPlace, got); i >= 0 {
		t.Fatalf("%s Lerp in place [%d]: %v, out of place %v", im.Name, i, inPlace[i], got[i])
	}
	if n == 0 {
		return
	}
	Generic().LayerNorm(want, a, w, b, eps)
	im.LayerNorm(got, a, w, b, eps)
	for i := range got {
		sc := lnScale(a, w, b, i, eps)
		if !agree(got[i], want[i], sc, 2e-6*math.Sqrt(float64(n)), fin) {
			t.Fatalf("%s LayerNorm n=%d [%d]: got %v want %v (scale %g)", im.Name, n, i, got[i], want[i], sc)
		}
	}
	inPlace = clone(a)
	im.LayerNorm(inPlace, inPlace, w, b, eps)
	if i := sameBits(inPlace, got); i >= 0 {
		t.Fatalf("%s LayerNorm in place [%d]: %v, out of place %v", im.Name, i, inPlace[i], got[i])
	}
}

// TestElementwise: every set's Lerp and LayerNorm agree with the generic
// twins for every length 0…300 at unaligned offsets, with large offsets
// (a mean far from zero), and carry NaN and ±Inf through.
func TestElementwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	for _, im := range simdSets(t) {
		for n := 0; n <= 300; n++ {
			for variant := 0; variant < 3; variant++ {
				a, b, mu, w := randVec(rng, n), randVec(rng, n), randVec(rng, n), randVec(rng, n)
				switch variant {
				case 1: // a mean far from zero
					for i := range a {
						a[i] = a[i]*0.01 + 300
					}
				case 2: // non-finite inputs
					if n > 0 {
						a[rng.IntN(n)] = []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}[rng.IntN(3)]
						mu[rng.IntN(n)] = float32(math.Inf(1))
					}
				}
				off := (n + variant) % 4
				checkElementwise(t, im, offsetVec(a, off), offsetVec(b, (off+1)%4), offsetVec(mu, (off+2)%4), offsetVec(w, (off+3)%4), 1e-5)
				if variant == 2 && n > 0 {
					// A non-finite x makes every LayerNorm output non-finite.
					got := make([]float32, n)
					im.LayerNorm(got, a, w, b, 1e-5)
					if finiteAll(a) == false && finiteAll(got[:1]) {
						t.Fatalf("%s LayerNorm n=%d: non-finite input, finite output %v", im.Name, n, got[0])
					}
				}
			}
		}
	}
}

// FuzzElementwise: Lerp and LayerNorm of every set against the generic
// twins on arbitrary bit patterns.
func FuzzElementwise(f *testing.F) {
	f.Add(uint16(37), uint8(1), []byte{0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0})
	f.Add(uint16(8), uint8(0), []byte{0x00, 0x00, 0xc0, 0x7f})
	f.Add(uint16(300), uint8(3), []byte{0xff, 0xff, 0x7f, 0x7f, 0x01, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, n16 uint16, off uint8, raw []byte) {
		n := int(n16) % 301
		if len(raw) < 4 {
			raw = append(raw, 0x00, 0x00, 0x80, 0x3f)
		}
		word := func(i int) float32 {
			j := (4 * i) % (len(raw) - 3)
			v := math.Float32frombits(binary.LittleEndian.Uint32(raw[j:]) ^ uint32(i*0x9e3779b9))
			if math.Abs(float64(v)) > 1e15 && !math.IsInf(float64(v), 0) {
				v = float32(math.Mod(float64(v), 1e3)) // keep most inputs in range
			}
			return v
		}
		vec := func(k int) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = word(k*n + i)
			}
			return offsetVec(v, (int(off)+k)%4)
		}
		for _, im := range simdSets(t) {
			checkElementwise(t, im, vec(0), vec(1), vec(2), vec(3), 1e-5)
		}
	})
}
