//go:build arm64 && !purego

package kernels

import (
	"math"
	"unsafe"

	"github.com/klauspost/cpuid/v2"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// platformImpls lists the SIMD sets this CPU supports, best first. ASIMD
// is part of every arm64 CPU; the integer product uses SDOT only where the
// CPU has the dot-product extension.
func platformImpls() []*Impl {
	im := &Impl{
		Name:         "neon",
		Why:          "arm64 ASIMD (NEON)",
		MatVec:       matVecNEON,
		MatMul:       matMulNEON,
		MatMulQ:      matMulQGeneric,
		QuantizeActs: quantizeActsNEON,
		Exp:          expGeneric,
		Sigmoid:      sigmoidGeneric,
		ReluSq:       reluSqGeneric,
		Lerp:         lerpGeneric,
		LayerNorm:    layerNormGeneric,
		FMALoop:      func(n int) int { fmaLoopNEON(n); return 12 * 4 * 2 * n },
		Dot:          dotNEONGo,
		WKV5:         wkv5NEON,
		WKV7:         wkv7NEON,
	}
	if cpuid.CPU.Supports(cpuid.ASIMDDP) {
		im.MatMulQ = matMulQNEON
		im.Why = "arm64 ASIMD (NEON) with the dot-product extension (SDOT)"
	}
	return []*Impl{im}
}

func dotNEONGo(a, b []float32) float32 {
	n := len(a)
	if n == 0 {
		return 0
	}
	b = b[:n]
	n4 := n &^ 3
	var s float32
	if n4 > 0 {
		s = dotNEON(&a[0], &b[0], n4)
	}
	for i := n4; i < n; i++ {
		s += a[i] * b[i]
	}
	return s
}

// matVecNEON runs the four-row kernels (the last rows, fewer than four,
// one at a time with stride 0); the k-quants' are in kquant_asm.go.
func matVecNEON(m *Mat, x, y []float32, lo, hi int) {
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
				k, stride = 1, 0
			}
			if n8 > 0 {
				switch m.DType {
				case tensor.F32:
					w := m.f32[r*c : (r+k)*c]
					mvF32x4NEON(&w[0], stride*4, &x[0], n8, &out)
				case tensor.F16:
					w := m.u16[r*c : (r+k)*c]
					mvF16x4NEON(&w[0], stride*2, &x[0], n8, &out)
				default:
					w := m.u16[r*c : (r+k)*c]
					mvBF16x4NEON(&w[0], stride*2, &x[0], n8, &out)
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
				k, stride = 1, 0
			}
			w := m.Data[r*rb : (r+k)*rb]
			switch m.DType {
			case tensor.Q8_0:
				mvQ8_0x4NEON(&w[0], stride, &x[0], nb, &out)
			case tensor.Q4_0:
				mvQ4_0x4NEON(&w[0], stride, &x[0], nb, &out)
			case tensor.Q4_1:
				mvQ4_1x4NEON(&w[0], stride, &x[0], nb, &out)
			case tensor.Q5_0:
				mvQ5_0x4NEON(&w[0], stride, &x[0], nb, &out)
			default:
				mvQ5_1x4NEON(&w[0], stride, &x[0], nb, &out)
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

// decodeTileSigned decodes rows r..r+k-1 (k ≤ 4) into mmQdot's tile:
// signed codes (offsets of Q4_0 and Q5_0 subtracted) at [b][row][32], d
// and c at [b][row]{d, c}; rows past k are zero.
func decodeTileSigned(m *Mat, r, k int, wt []byte, dwc []float32) {
	nb := m.Cols / 32
	bb := m.DType.BlockBytes()
	off := byte(qWeightsOf(m.DType).off)
	var u [32]byte
	for i := 0; i < 4; i++ {
		if i >= k {
			for b := 0; b < nb; b++ {
				clear(wt[b*128+i*32 : b*128+(i+1)*32])
				dwc[8*b+2*i], dwc[8*b+2*i+1] = 0, 0
			}
			continue
		}
		row := m.Row(r + i)
		for b := 0; b < nb; b++ {
			d, c := decodeQBlock(m.DType, row[b*bb:(b+1)*bb], &u)
			dwc[8*b+2*i], dwc[8*b+2*i+1] = d, c
			dst := wt[b*128+i*32 : b*128+i*32+32]
			for j, v := range u {
				dst[j] = v - off
			}
		}
	}
}

// matMulQNEON is the integer path with SDOT: each group of four rows is
// decoded once, then multiplied with every token octet.
func matMulQNEON(m *Mat, a *qActs, y []float32, ystride, lo, hi int, scratch []byte) {
	if lo >= hi {
		return
	}
	nb := m.Cols / 32
	wt := scratch[:nb*128]
	dwc := unsafe.Slice((*float32)(unsafe.Pointer(&scratch[nb*256])), 8*nb)
	var out [32]float32
	args := qmmArgs{wt: &wt[0], dwc: &dwc[0], nb: nb, out: &out}
	if qWeightsOf(m.DType).hasM {
		args.hasM = 1
	}
	for r := lo; r < hi; r += 4 {
		k := min(4, hi-r)
		decodeTileNEON(m, r, k, wt, dwc)
		for o := 0; o < a.no; o++ {
			args.xq = &a.block(o, 0)[0]
			mmQdot(&args)
			for tt := 0; tt < 8 && o*8+tt < a.T; tt++ {
				yt := y[(o*8+tt)*ystride+r:]
				for i := 0; i < k; i++ {
					yt[i] = out[i*8+tt]
				}
			}
		}
	}
}

// matMulNEON is the float product: for each group of four rows the weights
// are widened (or dequantized) once per token block into scratch (F32 rows
// are used in place), then the 4×4 FMA kernel runs over the block's tokens.
func matMulNEON(m *Mat, x []float32, T int, y []float32, ystride, lo, hi int, scratch []float32) {
	c := m.Cols
	n4 := c &^ 3
	isFloat := m.DType == tensor.F32 || m.DType == tensor.F16 || m.DType == tensor.BF16
	switch {
	case lo >= hi:
		return
	case n4 == 0, !isFloat && n4 != c:
		matMulGeneric(m, x, T, y, ystride, lo, hi, scratch)
		return
	}
	x = x[:T*c]
	if len(scratch) < 4*n4 {
		scratch = make([]float32, 4*n4)
	}
	tile := scratch[:4*n4]
	tb := (256 << 10) / (4 * c)
	if !isFloat {
		tb *= 4
	}
	tb = max(tb&^3, 8)
	var out [16]float32
	for t0 := 0; t0 < T; t0 += tb {
		t1 := min(t0+tb, T)
		for r := lo; r < hi; r += 4 {
			k := min(4, hi-r)
			var w *float32
			wstride := n4 * 4
			if m.DType == tensor.F32 && k == 4 {
				w, wstride = &m.f32[r*c], c*4
			} else {
				for i := 0; i < 4; i++ {
					dst := tile[i*n4 : (i+1)*n4]
					switch {
					case i >= k:
						clear(dst)
					case m.DType == tensor.F32:
						copy(dst, m.f32[(r+i)*c:(r+i)*c+n4])
					case m.DType == tensor.F16 && n4%8 == 0:
						cvtF16NEON(&dst[0], &m.u16[(r+i)*c], n4)
					case m.DType == tensor.F16, m.DType == tensor.BF16:
						src := m.u16[(r+i)*c : (r+i)*c+n4]
						for j, h := range src {
							if m.DType == tensor.F16 {
								dst[j] = f16Table[h]
							} else {
								dst[j] = math.Float32frombits(uint32(h) << 16)
							}
						}
					default: // quantized, whole blocks (n4 == c)
						dequantRowKAsm(m, r+i, dst)
					}
				}
				w = &tile[0]
			}
			for t := t0; t < t1; t += 4 {
				nt := min(4, t1-t)
				var xs [4]*float32
				for i := range xs {
					xs[i] = &x[(t+min(i, nt-1))*c]
				}
				mmF32x4x4NEON(w, wstride, xs[0], xs[1], xs[2], xs[3], n4, &out)
				for tt := 0; tt < nt; tt++ {
					xt := x[(t+tt)*c : (t+tt+1)*c]
					for i := 0; i < k; i++ {
						s := out[tt*4+i]
						if n4 < c {
							s += floatTail(m, r+i, n4, xt)
						}
						y[(t+tt)*ystride+r+i] = s
					}
				}
			}
		}
	}
}

// quantizeActsNEON is quantizeActsGo with the per-token work in assembly.
func quantizeActsNEON(a *qActs, x []float32, lo, hi int) { quantizeActsTok(a, x, lo, hi, quantTokNEON) }

// decodeTileNEON is decodeTileSigned with the rows decoded in assembly.
func decodeTileNEON(m *Mat, r, k int, wt []byte, dwc []float32) {
	nb := m.Cols / 32
	_ = wt[nb*128-1]
	_ = dwc[8*nb-1]
	for i := 0; i < 4; i++ {
		if i >= k {
			for b := 0; b < nb; b++ {
				clear(wt[b*128+i*32 : b*128+(i+1)*32])
				dwc[8*b+2*i], dwc[8*b+2*i+1] = 0, 0
			}
			continue
		}
		src := &m.Row(r + i)[0]
		switch m.DType {
		case tensor.Q8_0:
			decQ8_0NEON(src, nb, &wt[i*32], &dwc[2*i])
		case tensor.Q4_0:
			decQ4_0NEON(src, nb, &wt[i*32], &dwc[2*i])
		case tensor.Q4_1:
			decQ4_1NEON(src, nb, &wt[i*32], &dwc[2*i])
		case tensor.Q5_0:
			decQ5_0NEON(src, nb, &wt[i*32], &dwc[2*i])
		default:
			decQ5_1NEON(src, nb, &wt[i*32], &dwc[2*i])
		}
	}
}

// wkv5NEON runs the assembly head kernels when N is a multiple of 4.
func wkv5NEON(H, N int, r, k, v, w, u, S, y []float32) {
	if N%4 != 0 {
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
		for ; j+16 <= N; j += 16 {
			wkv5x16NEON(&S[o*N+j], N, &r[o], &k[o], &w[o], &v[o+j], &y[o+j], &ruk)
		}
		for ; j < N; j += 4 {
			wkv5x4NEON(&S[o*N+j], N, &r[o], &k[o], &w[o], &v[o+j], &y[o+j], &ruk)
		}
	}
}

// wkv7NEON runs the assembly head kernel when N is a multiple of 8.
func wkv7NEON(H, N int, r, dec, k, v, kk, b, S, y []float32) {
	if N%8 != 0 {
		wkv7Generic(H, N, r, dec, k, v, kk, b, S, y)
		return
	}
	C := H * N
	r, dec, k, v, kk, b, S, y = r[:C], dec[:C], k[:C], v[:C], kk[:C], b[:C], S[:C*N], y[:C]
	for h := 0; h < H; h++ {
		o := h * N
		wkv7HeadNEON(&S[o*N], N, &r[o], &dec[o], &k[o], &kk[o], &b[o], &v[o], &y[o])
	}
}
