package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/rwkv-chat/rwkv-chat/internal/quant"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// The k-quant kernels (Q4_K, Q5_K, Q6_K) against their generic twins, and
// the test data against the ggml block definitions.

// refK decodes one super-block element by element from the ggml block
// definitions (block_q4_K, block_q5_K, block_q6_K and their dequantize_row
// functions), independently of tensor.DequantizeK: the reference for the
// test data. Products are taken in ggml's order: (d·sc)·q − dmin·m, and
// (d·sc)·(q − 32) for Q6_K.
func refK(dt tensor.DType, blk []byte) [256]float32 {
	var y [256]float32
	half := func(o int) float32 { return tensor.F16ToF32(binary.LittleEndian.Uint16(blk[o:])) }
	// get_scale_min_k4: sub-block s's 6-bit scale and min.
	scaleMin := func(s int, q []byte) (int, int) {
		if s < 4 {
			return int(q[s] & 63), int(q[s+4] & 63)
		}
		return int(q[s+4]&0xF | (q[s-4]>>6)<<4), int(q[s+4]>>4 | (q[s]>>6)<<4)
	}
	switch dt {
	case tensor.Q4_K, tensor.Q5_K:
		d, dmin := half(0), half(2)
		scales := blk[4:16]
		var qh, qs []byte
		if dt == tensor.Q4_K {
			qs = blk[16:144]
		} else {
			qh, qs = blk[16:48], blk[48:176]
		}
		for e := range y {
			j, l, s := e/64, e%32, e/32 // chunk of 64, position, sub-block
			b := qs[32*j+l]
			q := int(b & 0xF)
			if s%2 == 1 {
				q = int(b >> 4)
			}
			if qh != nil && qh[l]>>uint(s)&1 != 0 { // bit 2j (low) or 2j+1 (high)
				q += 16
			}
			sc, m := scaleMin(s, scales)
			y[e] = d*float32(sc)*float32(q) - dmin*float32(m)
		}
	case tensor.Q6_K:
		ql, qh, sc := blk[0:128], blk[128:192], blk[192:208]
		d := half(208)
		for e := range y {
			n, r := e/128, e%128
			quarter, l := r/32, r%32
			b := ql[64*n+32*(quarter%2)+l]
			lo := int(b & 0xF)
			if quarter >= 2 {
				lo = int(b >> 4)
			}
			h := int(qh[32*n+l]>>uint(2*quarter)) & 3
			y[e] = d * float32(int8(sc[e/16])) * float32(lo|h<<4-32)
		}
	default:
		panic(dt)
	}
	return y
}

// nearlySame compares two decodings of the same value: they may differ by
// one rounding (a fused or unfused multiply-subtract), relative to scale.
func nearlySame(a, b, scale float32) bool {
	if a == b || (a != a && b != b) {
		return true
	}
	return math.Abs(float64(a)-float64(b)) <= 2e-7*float64(scale)
}

func absMax(v []float32) float32 {
	var m float32
	for _, x := range v {
		m = max(m, x, -x)
	}
	return m
}

// kHandBlock packs one super-block from chosen parameters with its own
// encoder of the ggml layout: 6-bit scales and mins (or int8 scales) and
// the codes (0..15, 0..31, or 0..63 for Q6_K, stored less 32).
func kHandBlock(dt tensor.DType, d, dmin float32, sc, mn []int, q []int) []byte {
	blk := make([]byte, dt.BlockBytes())
	switch dt {
	case tensor.Q4_K, tensor.Q5_K:
		binary.LittleEndian.PutUint16(blk, tensor.F32ToF16(d))
		binary.LittleEndian.PutUint16(blk[2:], tensor.F32ToF16(dmin))
		s := blk[4:16]
		for j := 0; j < 8; j++ {
			if j < 4 {
				s[j] |= byte(sc[j] & 63)
				s[j+4] |= byte(mn[j] & 63)
				continue
			}
			s[j+4] = byte(sc[j]&15 | (mn[j]&15)<<4)
			s[j-4] |= byte(sc[j]>>4) << 6
			s[j] |= byte(mn[j]>>4) << 6
		}
		qs := blk[16:144]
		if dt == tensor.Q5_K {
			qs = blk[48:176]
		}
		for e, v := range q {
			j, l, sub := e/64, e%32, e/32
			if sub%2 == 0 {
				qs[32*j+l] |= byte(v & 15)
			} else {
				qs[32*j+l] |= byte(v&15) << 4
			}
			if dt == tensor.Q5_K && v >= 16 {
				blk[16+l] |= 1 << uint(sub)
			}
		}
	case tensor.Q6_K:
		binary.LittleEndian.PutUint16(blk[208:], tensor.F32ToF16(d))
		for s := 0; s < 16; s++ {
			blk[192+s] = byte(int8(sc[s]))
		}
		for e, v := range q {
			n, r := e/128, e%128
			quarter, l := r/32, r%32
			i := 64*n + 32*(quarter%2) + l
			if quarter < 2 {
				blk[i] |= byte(v & 15)
			} else {
				blk[i] |= byte(v&15) << 4
			}
			blk[128+32*n+l] |= byte(v>>4&3) << uint(2*quarter)
		}
	}
	return blk
}

// TestKQuantBlocks checks the test data of the kernels: blocks packed by
// hand from chosen scales and codes, and blocks made by the repo's own
// quantizers from known data, decode to the values the ggml definitions
// give (refK), through tensor.Dequantize too.
func TestKQuantBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, dt := range kTypes {
		// By hand: every scale and min exercises its top bits.
		for trial := 0; trial < 20; trial++ {
			d, dmin := float32(0.01+0.1*rng.Float64()), float32(0.01*rng.Float64())
			var sc, mn []int
			nsub, qmax := 8, 16
			switch dt {
			case tensor.Q5_K:
				qmax = 32
			case tensor.Q6_K:
				nsub, qmax = 16, 64
			}
			q := make([]int, 256)
			for i := range q {
				q[i] = rng.IntN(qmax)
			}
			q[0], q[255] = 0, qmax-1
			for s := 0; s < nsub; s++ {
				if dt == tensor.Q6_K {
					sc = append(sc, rng.IntN(256)-128)
				} else {
					sc = append(sc, (s*9+trial)%64)
					mn = append(mn, (s*23+3*trial)%64)
				}
			}
			blk := kHandBlock(dt, d, dmin, sc, mn, q)
			ref := refK(dt, blk)
			dh := tensor.F16ToF32(tensor.F32ToF16(d))
			mh := tensor.F16ToF32(tensor.F32ToF16(dmin))
			for e := range ref {
				var want float32
				if dt == tensor.Q6_K {
					want = dh * float32(sc[e/16]) * float32(q[e]-32)
				} else {
					want = dh*float32(sc[e/32])*float32(q[e]) - mh*float32(mn[e/32])
				}
				if !nearlySame(ref[e], want, dh*64*64+mh*64) {
					t.Fatalf("%s hand block %d: element %d decodes to %v, want %v", dt, trial, e, ref[e], want)
				}
			}
			checkDecode(t, dt, blk, fmt.Sprintf("hand block %d", trial))
		}
		// The repo's quantizer on known data: a smooth wave with a
		// different amplitude and offset in every 32 elements.
		x := kKnownData(8 * 256)
		data, err := quant.Quantize(dt, x)
		if err != nil {
			t.Fatal(err)
		}
		for b := 0; b < 8; b++ {
			blk := data[b*dt.BlockBytes() : (b+1)*dt.BlockBytes()]
			ref := refK(dt, blk)
			checkDecode(t, dt, blk, fmt.Sprintf("quantized block %d", b))
			// The codes are near the data: within the coarsest step.
			var amax float64
			for _, v := range x[b*256 : (b+1)*256] {
				amax = max(amax, math.Abs(float64(v)))
			}
			for e, v := range ref {
				if d := math.Abs(float64(v - x[b*256+e])); d > amax/7 {
					t.Fatalf("%s quantized block %d: element %d is %v, data %v", dt, b, e, v, x[b*256+e])
				}
			}
		}
	}
}

// checkDecode compares tensor.Dequantize with refK on one block.
func checkDecode(t *testing.T, dt tensor.DType, blk []byte, what string) {
	t.Helper()
	ref := refK(dt, blk)
	got := make([]float32, 256)
	if err := tensor.Dequantize(dt, blk, got); err != nil {
		t.Fatal(err)
	}
	var scale float32
	for _, v := range ref {
		scale = max(scale, float32(math.Abs(float64(v))))
	}
	for e := range ref {
		if !nearlySame(got[e], ref[e], 4*scale) {
			t.Fatalf("%s %s: tensor.Dequantize element %d = %v, ggml definition %v", dt, what, e, got[e], ref[e])
		}
	}
}

// kKnownData is a smooth test signal: a wave whose amplitude and offset
// change every 32 elements, some sub-blocks all positive or all negative.
func kKnownData(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		s := i / 32
		amp := float32(0.05 + 0.3*math.Abs(math.Sin(float64(s)*1.7)))
		off := float32(0)
		switch s % 5 {
		case 1:
			off = 2 * amp
		case 3:
			off = -2 * amp
		}
		x[i] = amp*float32(math.Sin(float64(i)*0.37)+0.3*math.Cos(float64(i)*1.3)) + off
	}
	return x
}

// kMat makes a rows×cols k-quant matrix at byte offset off: random codes
// and scales (randWeights) or, when quantized is set, the repo's quantizer
// applied to random normal data.
func kMat(t testing.TB, rng *rand.Rand, dt tensor.DType, rows, cols, off int, quantized bool) *Mat {
	var data []byte
	if quantized {
		var err error
		data, err = quant.Quantize(dt, randVec(rng, rows*cols))
		if err != nil {
			t.Fatal(err)
		}
	} else {
		data = randWeights(rng, dt, rows, cols)
	}
	return newTestMat(t, dt, rows, cols, data, off)
}

// TestMatVecKQuant: every set's MatVec equals the generic one within 1e-5
// of Σ|w·x|, for 1…9 rows and every multiple of 256 columns up to 2048,
// weights and x at unaligned offsets.
func TestMatVecKQuant(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	maxCols := 2048
	if testing.Short() {
		maxCols = 768
	}
	for _, im := range simdSets(t) {
		for _, dt := range kTypes {
			for cols := 256; cols <= maxCols; cols += 256 {
				for rows := 1; rows <= 9; rows++ {
					off := 2*((rows+cols/256)%4) + 1 // odd byte offsets
					m := kMat(t, rng, dt, rows, cols, off, rows%2 == 0)
					x := offsetVec(randVec(rng, cols), (rows+1)%4)
					checkMatVec(t, im, m, x, 1e-5)
				}
			}
		}
	}
}

// TestMatVecKQuantLo: a range [lo, hi) inside the matrix touches only its
// rows.
func TestMatVecKQuantLo(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	for _, im := range simdSets(t) {
		for _, dt := range kTypes {
			m := kMat(t, rng, dt, 11, 512, 3, false)
			x := randVec(rng, 512)
			want := make([]float32, 11)
			Generic().MatVec(m, x, want, 0, 11)
			for lo := 0; lo < 11; lo++ {
				for hi := lo + 1; hi <= 11; hi++ {
					got := make([]float32, 11)
					for i := range got {
						got[i] = -7
					}
					im.MatVec(m, x, got, lo, hi)
					for r := range got {
						if r < lo || r >= hi {
							if got[r] != -7 {
								t.Fatalf("%s [%d,%d): row %d written", describe(im, dt, 11, 512), lo, hi, r)
							}
						} else if !closeRel(got[r], want[r], absDot(m, r, x), 1e-5) {
							t.Fatalf("%s [%d,%d): row %d got %v want %v", describe(im, dt, 11, 512), lo, hi, r, got[r], want[r])
						}
					}
				}
			}
		}
	}
}

// TestMatVecKQuantLong: rows longer than one pass of the SIMD drivers
// (kSegBlocks super-blocks, 65536 columns) are summed over segments.
func TestMatVecKQuantLong(t *testing.T) {
	if testing.Short() {
		t.Skip("long rows")
	}
	rng := rand.New(rand.NewPCG(45, 46))
	cols := 256 * (2*256 + 3)
	for _, im := range simdSets(t) {
		for _, dt := range kTypes {
			m := kMat(t, rng, dt, 5, cols, 1, false)
			checkMatVec(t, im, m, randVec(rng, cols), 1e-5)
		}
	}
}

// TestMatVecKQuantNaNInf: non-finite activations propagate as in the
// generic set (as TestMatVecNaNInf), and so do non-finite scales.
func TestMatVecKQuantNaNInf(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	bads := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for _, im := range simdSets(t) {
		for _, dt := range kTypes {
			for _, cols := range []int{256, 512, 1280} {
				rows := 6
				m := kMat(t, rng, dt, rows, cols, 1, false)
				for _, bad := range bads {
					x := randVec(rng, cols)
					x[rng.IntN(cols)] = bad
					got := make([]float32, rows)
					want := make([]float32, rows)
					im.MatVec(m, x, got, 0, rows)
					Generic().MatVec(m, x, want, 0, rows)
					for r := range got {
						if !sameNonFinite(dt, got[r], want[r]) {
							t.Fatalf("%s x has %v: row %d got %v want %v", describe(im, dt, rows, cols), bad, r, got[r], want[r])
						}
					}
				}
				// A non-finite d (or dmin) in one block of row 2.
				for _, bad := range []uint16{0x7c00, 0xfc00, 0x7e00} {
					data := append([]byte(nil), m.Data...)
					o := 2*m.RowBytes + (cols/256-1)*dt.BlockBytes()
					if dt == tensor.Q6_K {
						o += 208
					} else if bad == 0xfc00 {
						o += 2 // dmin
					}
					binary.LittleEndian.PutUint16(data[o:], bad)
					mb := newTestMat(t, dt, rows, cols, data, 0)
					x := randVec(rng, cols)
					got := make([]float32, rows)
					want := make([]float32, rows)
					im.MatVec(mb, x, got, 0, rows)
					Generic().MatVec(mb, x, want, 0, rows)
					for r := range got {
						if !sameNonFinite(dt, got[r], want[r]) {
							t.Fatalf("%s scale %#x: row %d got %v want %v", describe(im, dt, rows, cols), bad, r, got[r], want[r])
						}
					}
				}
			}
		}
	}
}

// TestMatMulKQuant: the float product of the k-quants (the weights
// dequantized per token block) equals the generic one and MatVec.
func TestMatMulKQuant(t *testing.T) {
	rng := rand.New(rand.NewPCG(39, 40))
	for _, im := range simdSets(t) {
		for _, dt := range kTypes {
			for _, cols := range []int{256, 768, 2048} {
				for _, T := range []int{2, 3, 5, 13, 40} {
					rows := 1 + (cols/256+T)%9
					m := kMat(t, rng, dt, rows, cols, 2*(T%4)+1, T%2 == 1)
					x := randVec(rng, T*cols)
					checkMatMul(t, im, m, x, T, 1e-5)
					got := runMatMul(im, m, x, T)
					for tt := 0; tt < T; tt++ {
						xt := x[tt*cols : (tt+1)*cols]
						mv := make([]float32, rows)
						im.MatVec(m, xt, mv, 0, rows)
						for r := range mv {
							if !closeRel(got[tt*rows+r], mv[r], absDot(m, r, xt), 1e-5) {
								t.Fatalf("%s T=%d token %d row %d: MatMul %v MatVec %v", describe(im, dt, rows, cols), T, tt, r, got[tt*rows+r], mv[r])
							}
						}
					}
				}
			}
			// Non-finite activations.
			m := kMat(t, rng, dt, 5, 512, 0, false)
			for _, bad := range []float32{float32(math.Inf(1)), float32(math.NaN())} {
				x := randVec(rng, 4*512)
				x[rng.IntN(len(x))] = bad
				got, want := runMatMul(im, m, x, 4), runMatMul(Generic(), m, x, 4)
				for i := range got {
					if !sameNonFinite(dt, got[i], want[i]) {
						t.Fatalf("%s x has %v: y[%d] got %v want %v", describe(im, dt, 5, 512), bad, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestKQuantNoAlloc: MatVec and MatMul of the k-quants allocate nothing
// once the pool's scratch is sized.
func TestKQuantNoAlloc(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	p := NewPool(1)
	for _, dt := range kTypes {
		m := kMat(t, rng, dt, 8, 1024, 0, false)
		x := randVec(rng, 4*1024)
		y := make([]float32, 4*8)
		for _, set := range Names() {
			withSet(set, func() {
				p.MatMul(m, x, 4, y)
				if n := testing.AllocsPerRun(20, func() { p.MatVec(m, x, y) }); n != 0 {
					t.Errorf("%s %s MatVec: %v allocations", set, dt, n)
				}
				if n := testing.AllocsPerRun(20, func() { p.MatMul(m, x, 4, y) }); n != 0 {
					t.Errorf("%s %s MatMul: %v allocations", set, dt, n)
				}
			})
		}
	}
}

// BenchmarkMatVecKQuant is BenchmarkMatVec for the k-quants (GB/s of
// weights read).
func BenchmarkMatVecKQuant(b *testing.B) {
	for _, shape := range [][2]int{{2048, 2048}, {8192, 2048}} {
		for _, dt := range kTypes {
			ms := benchMats(b, dt, shape[0], shape[1])
			x := randVec(rand.New(rand.NewPCG(1, 1)), shape[1])
			y := make([]float32, shape[0])
			for _, set := range Names() {
				b.Run(fmt.Sprintf("%s/%s/%dx%d", set, dt, shape[0], shape[1]), func(b *testing.B) {
					withSet(set, func() {
						p := NewPool(1)
						b.SetBytes(int64(ms[0].Bytes()))
						b.ResetTimer()
						for i := 0; i < b.N; i++ {
							p.MatVec(ms[i%len(ms)], x, y)
						}
					})
				})
			}
		}
	}
}

// BenchmarkMatVecKQuantL2 is BenchmarkMatVecKQuant on a matrix that stays
// in L2: the kernels' arithmetic throughput without the memory.
func BenchmarkMatVecKQuantL2(b *testing.B) {
	rows, cols := 128, 2048
	for _, dt := range kTypes {
		rng := rand.New(rand.NewPCG(9, uint64(dt)))
		m, _ := NewMat(dt, rows, cols, randWeights(rng, dt, rows, cols))
		x := randVec(rng, cols)
		y := make([]float32, rows)
		for _, set := range Names() {
			b.Run(fmt.Sprintf("%s/%s/%dx%d", set, dt, rows, cols), func(b *testing.B) {
				im := Get(set)
				b.SetBytes(int64(m.Bytes()))
				for i := 0; i < b.N; i++ {
					im.MatVec(m, x, y, 0, rows)
				}
			})
		}
	}
}

// BenchmarkMatMulKQuant is BenchmarkMatMul for the k-quants.
func BenchmarkMatMulKQuant(b *testing.B) {
	rows, cols := 2048, 2048
	for _, dt := range kTypes {
		rng := rand.New(rand.NewPCG(10, uint64(dt)))
		m, err := NewMat(dt, rows, cols, randWeights(rng, dt, rows, cols))
		if err != nil {
			b.Fatal(err)
		}
		for _, T := range []int{8, 64} {
			x := randVec(rng, T*cols)
			y := make([]float32, T*rows)
			for _, set := range Names() {
				b.Run(fmt.Sprintf("%s/%s/T=%d", set, dt, T), func(b *testing.B) {
					withSet(set, func() {
						p := NewPool(1)
						b.SetBytes(int64(m.Bytes()))
						b.ResetTimer()
						for i := 0; i < b.N; i++ {
							p.MatMul(m, x, T, y)
						}
						b.ReportMetric(2*float64(rows*cols*T)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					})
				})
			}
		}
	}
}

// TestSpeedKQuant prints best-of-N figures for the k-quants (the machine
// is shared; the minimum is the figure least disturbed by other load):
// MatVec GB/s of weights from memory (8192×2048, cycling through copies
// that together are well past the last-level cache) with one and two
// threads, and from L2 (128×2048); MatMul GFLOP/s (2048×2048, one thread).
// Run with RWKV_SPEED=1 go test -run TestSpeedKQuant -v ./internal/kernels/.
func TestSpeedKQuant(t *testing.T) {
	if os.Getenv("RWKV_SPEED") == "" {
		t.Skip("set RWKV_SPEED=1")
	}
	best := func(n int, f func()) time.Duration {
		b := time.Hour
		for i := 0; i < n; i++ {
			t0 := time.Now()
			f()
			b = min(b, time.Since(t0))
		}
		return b
	}
	pools := []*Pool{NewPool(1), NewPool(2)}
	for _, dt := range kTypes {
		ms := benchMats(t, dt, 8192, 2048)
		x := randVec(rand.New(rand.NewPCG(1, 1)), 2048)
		y := make([]float32, 8192)
		l2, _ := NewMat(dt, 128, 2048, randWeights(rand.New(rand.NewPCG(2, 2)), dt, 128, 2048))
		for _, set := range Names() {
			line := fmt.Sprintf("matvec %s %s:", dt, set)
			withSet(set, func() {
				n := 3 * len(ms)
				if set == "generic" {
					n = len(ms) / 4
				}
				for _, p := range pools {
					i := 0
					d := best(n, func() { p.MatVec(ms[i%len(ms)], x, y); i++ })
					line += fmt.Sprintf("  %d thr %5.1f GB/s", p.Threads(), float64(ms[0].Bytes())/d.Seconds()/1e9)
				}
				d := best(n*20, func() { pools[0].MatVec(l2, x, y) })
				line += fmt.Sprintf("  L2 %5.1f GB/s", float64(l2.Bytes())/d.Seconds()/1e9)
			})
			t.Log(line)
		}
		m := ms[0]
		for _, T := range []int{8, 64} {
			x := randVec(rand.New(rand.NewPCG(3, 3)), T*2048)
			y := make([]float32, T*8192)
			line := fmt.Sprintf("matmul %s T=%d:", dt, T)
			for _, set := range Names() {
				withSet(set, func() {
					n := 5
					if set == "generic" {
						n = 1
					}
					d := best(n, func() { pools[0].MatMul(m, x, T, y) })
					line += fmt.Sprintf("  %s %6.1f GFLOP/s", set, 2*float64(m.Rows*m.Cols*T)/d.Seconds()/1e9)
				})
			}
			t.Log(line)
		}
	}
}
