//go:build amd64 && !purego

package kernels

import (
	"math"
	"unsafe"

	"github.com/klauspost/cpuid/v2"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// platformImpls lists the SIMD sets this CPU supports, best first.
func platformImpls() []*Impl {
	if !cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3, cpuid.F16C) {
		return nil
	}
	if cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512BW, cpuid.AVX512VL, cpuid.AVX512VNNI) {
		return []*Impl{avx512Impl(), avx2Impl()}
	}
	return []*Impl{avx2Impl()}
}

func avx2Impl() *Impl {
	return &Impl{
		Name:         "avx2",
		Why:          "CPU has AVX2, FMA3 and F16C",
		MatVec:       matVecAVX2,
		MatMul:       matMulAVX2,
		MatMulQ:      matMulQAVX2,
		QuantizeActs: quantizeActsAVX2,
		MatVecQ:      matVecQAVX2,
		QuantizeVec:  quantizeVecAVX2,
		Exp:          expAVX2Go,
		Sigmoid:      sigmoidAVX2Go,
		ReluSq:       reluSqAVX2Go,
		Lerp:         lerpAVX2Go,
		LayerNorm:    layerNormAVX2Go,
		FMALoop:      func(n int) int { fmaLoopY(n); return 12 * 8 * 2 * n },
		Dot:          dotAVX2Go,
		WKV5:         wkv5AVX2,
		WKV7:         wkv7AVX2,
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

// matVecFloatRuns sets y[r] to row r's dot product with x over the first
// n8 columns (a positive multiple of 8) for r in [lo, hi), with the grouped
// float kernels, one call per rowRun.
func matVecFloatRuns(m *Mat, x, y []float32, lo, hi, n8 int) {
	c := m.Cols
	runs, nr := rowRuns(lo, hi)
	for _, rn := range runs[:nr] {
		last := rn.last()
		_ = y[last]
		switch m.DType {
		case tensor.F32:
			w := m.f32[rn.r*c : (last+1)*c]
			mvF32x4(&w[0], rn.stride*c*4, &x[0], n8, &y[rn.r], prefetchFloat, rn.groups, rn.step*c*4, rn.stride*4, rn.step*4)
		case tensor.F16:
			w := m.u16[rn.r*c : (last+1)*c]
			mvF16x4(&w[0], rn.stride*c*2, &x[0], n8, &y[rn.r], prefetchFloat, rn.groups, rn.step*c*2, rn.stride*4, rn.step*4)
		default:
			w := m.u16[rn.r*c : (last+1)*c]
			mvBF16x4(&w[0], rn.stride*c*2, &x[0], n8, &y[rn.r], prefetchFloat, rn.groups, rn.step*c*2, rn.stride*4, rn.step*4)
		}
	}
}

// prefetchFloat and prefetchQuant are how far ahead, in bytes, the decode
// kernels prefetch each of the rows they read (the rows of a stream are
// adjacent, so this runs on into the next row): about the distance a stream
// advances in one memory latency, rather than a number of rows. Measured on
// 1.5B v7 models token by token alternated in one process, against the
// old 4 rows (float) and 8 rows (quantized), while the machine read at
// ~80 GB/s and at ~53 GB/s: F16 at 2560 +7% and −1%; Q4_0 at 3072 +7% and
// −4%, at 5120 +4% and +2%. A distance of exactly 4096 was slower than
// its neighbours; 1 KiB was 11–17% slower.
const (
	prefetchFloat = 2560
	prefetchQuant = 5120
)

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
		// The kernels take the first n8 columns of every row; a row's
		// last columns, if any, are added here in Go.
		n8 := c &^ 7
		if n8 > 0 {
			matVecFloatRuns(m, x, y, lo, hi, n8)
		} else {
			clear(y[lo:hi])
		}
		if n8 < c {
			for r := lo; r < hi; r++ {
				y[r] += floatTail(m, r, n8, x)
			}
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
				mvQ8_0x4(&w[0], stride, &x[0], nb, &out, f16Table)
			case tensor.Q4_0:
				mvQ4_0x4(&w[0], stride, &x[0], nb, &out, f16Table)
			case tensor.Q4_1:
				mvQ4_1x4(&w[0], stride, &x[0], nb, &out, f16Table)
			case tensor.Q5_0:
				mvQ5_0x4(&w[0], stride, &x[0], nb, &out, q5lut, f16Table)
			default:
				mvQ5_1x4(&w[0], stride, &x[0], nb, &out, q5lut, f16Table)
			}
			copy(y[r:r+k], out[:k])
			r += k
		}
	case tensor.Q4_K, tensor.Q5_K, tensor.Q6_K:
		matVecKAsm(m, x, y, lo, hi)
	default:
		matVecGeneric(m, x, y, lo, hi)
	}
}

// mmChunk is the column chunk of one kernel call: four rows of 1024
// floats (16 KiB) stay in L1 while the tokens' chunks stream past. Fewer,
// longer calls measured faster than 512 on Zen 5 (the sums at the end of
// a call are a fixed cost).
const mmChunk = 1024

// mmKernel selects the register block of matMulFloat.
type mmKernel int

const (
	mmYmm4x3 mmKernel = iota // mmF32x4x3: 4 rows × 3 tokens, ymm
	mmZmm4x6                 // mmF32x4x6z: 4 rows × 6 tokens, zmm
)

// matMulAVX2 is the float product with the 4×3 ymm kernel.
func matMulAVX2(m *Mat, x []float32, T int, y []float32, ystride, lo, hi int, scratch []float32) {
	matMulFloat(m, x, T, y, ystride, lo, hi, scratch, mmYmm4x3)
}

// matMulFloat is the float product with kernel kern. Float weights go in
// column panels of mmChunk; within a panel, a block of tokens (about 768
// KiB of x, kept in L2) passes over each group of four rows, widened once
// per block into scratch (F32 rows are used in place). Panels let the
// block hold many tokens even for long rows, so each weight fetched from
// memory serves more FMAs. The k-quants (and other quantized weights when
// SetIntegerPrefill(false)) are dequantized by whole rows: one panel,
// run in chunks, and twice the tokens, as dequantization costs more.
// Each output is one fixed sequence (column chunks in order from 0, the
// kernel's FMA chain and sum within a chunk, the last Cols%8 columns in
// Go), whatever rows lo and hi give this call.
func matMulFloat(m *Mat, x []float32, T int, y []float32, ystride, lo, hi int, scratch []float32, kern mmKernel) {
	c := m.Cols
	n8 := c &^ 7
	isFloat := m.DType == tensor.F32 || m.DType == tensor.F16 || m.DType == tensor.BF16
	switch {
	case lo >= hi:
		return
	case n8 == 0, !isFloat && n8 != c:
		matMulGeneric(m, x, T, y, ystride, lo, hi, scratch)
		return
	}
	nt := 3 // tokens per kernel call
	if kern == mmZmm4x6 {
		nt = 6
	}
	x = x[:T*c]
	pw, tb := n8, (1536<<10)/(4*c) // panel width, tokens per block
	if isFloat {
		pw = min(n8, mmChunk)
		tb = (768 << 10) / (4 * pw)
	}
	tb -= tb % nt
	tb = max(tb, 4*nt)
	if len(scratch) < 4*pw { // callers outside the pool may pass Cols floats
		scratch = make([]float32, 4*pw)
	}
	var out [12]float32
	for p0 := 0; p0 < n8; p0 += pw {
		pn := min(pw, n8-p0)
		tile := scratch[:4*pn]
		for t0 := 0; t0 < T; t0 += tb {
			t1 := min(t0+tb, T)
			for r := lo; r < hi; r += 4 {
				k := min(4, hi-r)
				_ = y[(t1-1)*ystride+r+k-1] // the zmm kernel's last store
				var w *float32
				wstride := pn * 4
				switch {
				case m.DType == tensor.F32 && k == 4:
					w, wstride = &m.f32[r*c+p0], c*4
				default:
					for i := 0; i < 4; i++ {
						dst := tile[i*pn : (i+1)*pn]
						o := (r+i)*c + p0
						switch {
						case i >= k:
							clear(dst)
						case m.DType == tensor.F32:
							copy(dst, m.f32[o:o+pn])
						case m.DType == tensor.F16:
							cvtF16(&dst[0], &m.u16[o], pn)
						case m.DType == tensor.BF16:
							cvtBF16(&dst[0], &m.u16[o], pn)
						default: // quantized: one panel, whole blocks (n8 == c)
							dequantRowKAsm(m, r+i, dst)
						}
					}
					w = &tile[0]
				}
				for k0 := 0; k0 < pn; k0 += mmChunk {
					kn := min(mmChunk, pn-k0)
					wk := (*float32)(unsafe.Add(unsafe.Pointer(w), 4*k0))
					xc := p0 + k0 // column of the chunk in x
					for t := t0; t < t1; t += nt {
						n := min(nt, t1-t)
						// Token slots past n repeat token t; their sums
						// are dropped.
						var xp [6]*float32
						for j := range nt {
							xp[j] = &x[t*c+xc]
							if j < n {
								xp[j] = &x[(t+j)*c+xc]
							}
						}
						if kern == mmZmm4x6 {
							acc := 0
							if xc > 0 {
								acc = 1
							}
							mmF32x4x6z(wk, wstride, xp[0], xp[1], xp[2], xp[3], xp[4], xp[5], kn,
								&y[t*ystride+r], ystride*4, n, 1<<k-1, acc)
							continue
						}
						mmF32x4x3(wk, wstride, xp[0], xp[1], xp[2], kn, &out)
						for tt := 0; tt < n; tt++ {
							yt := y[(t+tt)*ystride+r : (t+tt)*ystride+r+k]
							if xc == 0 {
								copy(yt, out[tt*4:tt*4+k])
							} else {
								for i := range yt {
									yt[i] += out[tt*4+i]
								}
							}
						}
					}
				}
			}
		}
	}
	if n8 < c {
		for t := 0; t < T; t++ {
			xt := x[t*c : (t+1)*c]
			for r := lo; r < hi; r++ {
				y[t*ystride+r] += floatTail(m, r, n8, xt)
			}
		}
	}
}

// decodeTileGo decodes rows r..r+k-1 (k ≤ 4) of a quantized matrix into the
// integer kernels' tile layout; rows past k are zero.
func decodeTileGo(m *Mat, r, k int, wt []byte, dwc []float32) {
	nb := m.Cols / 32
	bb := m.DType.BlockBytes()
	bs := 128
	if m.DType == tensor.Q8_0 {
		bs = 256
	}
	var u [32]byte
	for i := 0; i < 4; i++ {
		if i >= k {
			for b := 0; b < nb; b++ {
				clear(wt[b*bs+i*bs/4 : b*bs+(i+1)*bs/4])
				dwc[8*b+2*i], dwc[8*b+2*i+1] = 0, 0
			}
			continue
		}
		row := m.Row(r + i)
		for b := 0; b < nb; b++ {
			d, c := decodeQBlock(m.DType, row[b*bb:(b+1)*bb], &u)
			dwc[8*b+2*i], dwc[8*b+2*i+1] = d, c
			if m.DType == tensor.Q8_0 {
				dst := wt[b*bs+i*64:]
				for j, v := range u {
					dst[j] = byte(max(int8(v), -int8(v))) // |w| (−128 stays 0x80 = 128)
					dst[32+j] = v
				}
				continue
			}
			copy(wt[b*bs+i*32:], u[:])
		}
	}
}

// matMulQAVX2 runs the integer-path kernels: each group of four rows is
// decoded once, then multiplied with every token octet.
func matMulQAVX2(m *Mat, a *qActs, y []float32, ystride, lo, hi int, scratch []byte) {
	matMulQx86(m, a, y, ystride, lo, hi, scratch, false)
}

// matMulQx86 is the integer MatMul of the avx2 set, or with vnni that of
// the avx512 set (one kernel for every type, on the tile layout of the
// decVQ decoders).
func matMulQx86(m *Mat, a *qActs, y []float32, ystride, lo, hi int, scratch []byte, vnni bool) {
	if lo >= hi {
		return
	}
	nb := m.Cols / 32
	bs := 128
	if m.DType == tensor.Q8_0 || vnni {
		bs = 256
	}
	wt := scratch[:nb*bs]
	dwc := unsafe.Slice((*float32)(unsafe.Pointer(&scratch[nb*256])), 8*nb)
	qw := qWeightsOf(m.DType)
	var out, out2 [32]float32
	args := qmmArgs{wt: &wt[0], dwc: &dwc[0], nb: nb, out: &out, out2: &out2, shift: 64}
	switch qw.off {
	case 8:
		args.shift = 3
	case 16:
		args.shift = 4
	}
	if qw.hasM {
		args.hasM = 1
	}
	// Octets per block: keep a block of activations within about 1 MiB
	// (L2); the rows are decoded again for every block.
	ob := max(4, (1<<20)/(nb*qaBlockBytes))
	for o0 := 0; o0 < a.no; o0 += ob {
		o1 := min(o0+ob, a.no)
		for r := lo; r < hi; r += 4 {
			k := min(4, hi-r)
			if vnni {
				decodeTileVNNI(m, r, k, wt, dwc)
			} else {
				decodeTileAVX2(m, r, k, wt, dwc)
			}
			for o := o0; o < o1; o++ {
				args.xq = &a.block(o, 0)[0]
				switch { // a direct call keeps args on the stack
				case vnni && o+1 < o1:
					args.xq2 = &a.block(o+1, 0)[0]
					mmQVx16(&args)
					qmmScatter(y, ystride, r, k, o, a.T, &out)
					o++
					qmmScatter(y, ystride, r, k, o, a.T, &out2)
					continue
				case vnni:
					mmQVx8(&args)
				case m.DType == tensor.Q8_0:
					mmQ8x8(&args)
				case m.DType == tensor.Q5_0, m.DType == tensor.Q5_1:
					mmQ5x8(&args)
				default:
					mmQ4x8(&args)
				}
				qmmScatter(y, ystride, r, k, o, a.T, &out)
			}
		}
	}
}

// qmmScatter copies the integer kernels' out ([row][token]) for rows
// r..r+k-1 and octet o into y.
func qmmScatter(y []float32, ystride, r, k, o, T int, out *[32]float32) {
	for tt := 0; tt < 8 && o*8+tt < T; tt++ {
		yt := y[(o*8+tt)*ystride+r:]
		for i := 0; i < k; i++ {
			yt[i] = out[i*8+tt]
		}
	}
}

// quantizeActsAVX2 is quantizeActsGo with the per-token work in assembly.
func quantizeActsAVX2(a *qActs, x []float32, lo, hi int) { quantizeActsTok(a, x, lo, hi, quantTok) }

// quantizeVecAVX2 is quantizeVecGo in assembly.
func quantizeVecAVX2(v *qVec, x []float32) {
	if v.nb > 0 {
		_ = x[v.nb*32-1]
		quantVecBlocks(&x[0], v.nb, &v.q[0], &v.ds[0], &v.sq[0])
	}
}

// decodeTileAVX2 is decodeTileGo with the rows decoded in assembly.
func decodeTileAVX2(m *Mat, r, k int, wt []byte, dwc []float32) {
	nb := m.Cols / 32
	slot := 32
	dec := decQ4_0
	switch m.DType {
	case tensor.Q4_1:
		dec = decQ4_1
	case tensor.Q5_0:
		dec = decQ5_0
	case tensor.Q5_1:
		dec = decQ5_1
	case tensor.Q8_0:
		dec, slot = decQ8_0, 64
	}
	bs := 4 * slot
	_ = wt[nb*bs-1]
	_ = dwc[8*nb-1]
	for i := 0; i < 4; i++ {
		if i < k {
			dec(&m.Row(r + i)[0], nb, &wt[i*slot], &dwc[2*i])
			continue
		}
		for b := 0; b < nb; b++ {
			clear(wt[b*bs+i*slot : b*bs+(i+1)*slot])
			dwc[8*b+2*i], dwc[8*b+2*i+1] = 0, 0
		}
	}
}

// wkv5AVX2 runs the assembly head kernels when N is a multiple of 8.
func wkv5AVX2(H, N int, r, k, v, w, u, S, y []float32) {
	if N%8 != 0 {
		wkv5Generic(H, N, r, k, v, w, u, S, y)
		return
	}
	C := H * N
	r, k, v, w, u, S, y = r[:C], k[:C], v[:C], w[:C], u[:C], S[:C*N], y[:C]
	for h := 0; h < H; h++ {
		o := h * N
		var ruk float32
		for i := o; i < o+N; i++ {
			ruk += r[i] * u[i] * k[i]
		}
		j := 0
		for ; j+32 <= N; j += 32 {
			wkv5x32(&S[o*N+j], N, &r[o], &k[o], &w[o], &v[o+j], &y[o+j], &ruk)
		}
		for ; j < N; j += 8 {
			wkv5x8(&S[o*N+j], N, &r[o], &k[o], &w[o], &v[o+j], &y[o+j], &ruk)
		}
	}
}

// wkv7AVX2 runs the assembly head kernel when N is a multiple of 8.
func wkv7AVX2(H, N int, r, dec, k, v, kk, b, S, y []float32) {
	if N%8 != 0 {
		wkv7Generic(H, N, r, dec, k, v, kk, b, S, y)
		return
	}
	C := H * N
	r, dec, k, v, kk, b, S, y = r[:C], dec[:C], k[:C], v[:C], kk[:C], b[:C], S[:C*N], y[:C]
	for h := 0; h < H; h++ {
		o := h * N
		wkv7Head(&S[o*N], N, &r[o], &dec[o], &k[o], &kk[o], &b[o], &v[o], &y[o])
	}
}

func expAVX2Go(out, x []float32) {
	n8 := len(x) &^ 7
	out = out[:len(x)]
	if n8 > 0 {
		expAVX2(&out[0], &x[0], n8)
	}
	expGeneric(out[n8:], x[n8:])
}

func reluSqAVX2Go(x []float32) {
	n8 := len(x) &^ 7
	if n8 > 0 {
		reluSqAVX2(&x[0], n8)
	}
	reluSqGeneric(x[n8:])
}

func sigmoidAVX2Go(out, x []float32) {
	n8 := len(x) &^ 7
	out = out[:len(x)]
	if n8 > 0 {
		sigmoidAVX2(&out[0], &x[0], n8)
	}
	sigmoidGeneric(out[n8:], x[n8:])
}

func lerpAVX2Go(out, a, b, mu []float32) {
	n := len(mu)
	out, a, b = out[:n], a[:n], b[:n]
	n8 := n &^ 7
	if n8 > 0 {
		lerpAVX2(&out[0], &a[0], &b[0], &mu[0], n8)
	}
	lerpGeneric(out[n8:], a[n8:], b[n8:], mu[n8:])
}

// layerNormAVX2Go is layerNormGeneric with the sums and the scaling in
// eight lanes (the sums in another order: float rounding only).
func layerNormAVX2Go(out, x, w, b []float32, eps float32) {
	n := len(x)
	if n == 0 {
		return
	}
	out, w, b = out[:n], w[:n], b[:n]
	n8 := n &^ 7
	var sum float32
	if n8 > 0 {
		sum = sumAVX2(&x[0], n8)
	}
	for _, v := range x[n8:] {
		sum += v
	}
	mean := sum / float32(n)
	var vr float32
	if n8 > 0 {
		vr = sqDevAVX2(&x[0], n8, mean)
	}
	for _, v := range x[n8:] {
		d := v - mean
		vr += d * d
	}
	vr /= float32(n)
	inv := float32(1 / math.Sqrt(float64(vr+eps)))
	if n8 > 0 {
		normAVX2(&out[0], &x[0], &w[0], &b[0], n8, mean, inv)
	}
	for i := n8; i < n; i++ {
		out[i] = (x[i]-mean)*inv*w[i] + b[i]
	}
}
