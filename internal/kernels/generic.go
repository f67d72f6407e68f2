package kernels

import (
	"encoding/binary"
	"math"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// genericImpl is the portable set: plain Go, the reference every SIMD set
// is tested against.
func genericImpl() *Impl {
	return &Impl{
		Name:         "generic",
		Why:          "portable Go (no SIMD set for this CPU)",
		MatVec:       matVecGeneric,
		MatMul:       matMulGeneric,
		MatMulQ:      matMulQGeneric,
		QuantizeActs: quantizeActsGo,
		MatVecQ:      matVecQGeneric,
		QuantizeVec:  quantizeVecGo,
		Exp:          expGeneric,
		Sigmoid:      sigmoidGeneric,
		ReluSq:       reluSqGeneric,
		Lerp:         lerpGeneric,
		LayerNorm:    layerNormGeneric,
		FMALoop:      fmaLoopGeneric,
		Dot:          dotGeneric,
		WKV5:         wkv5Generic,
		WKV7:         wkv7Generic,
	}
}

// f16Table maps every half to its float32; 256 KiB, built on first use.
var f16Table = func() *[65536]float32 {
	var t [65536]float32
	for i := range t {
		t[i] = tensor.F16ToF32(uint16(i))
	}
	return &t
}()

// fmaLoopGeneric keeps eight scalar chains of multiply-adds in flight.
func fmaLoopGeneric(n int) int {
	var a [8]float32
	for i := 0; i < n; i++ {
		for j := range a {
			a[j] = a[j]*0.999 + 1e-3
		}
	}
	fmaSink = a[0] + a[7]
	return 16 * n
}

// fmaSink keeps fmaLoopGeneric's result alive.
var fmaSink float32

func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// rowDot is W[r]·x for one row of any type, dequantizing on the fly.
func rowDot(m *Mat, r int, x []float32) float32 {
	c := m.Cols
	switch m.DType {
	case tensor.F32:
		return dotGeneric(m.f32[r*c:(r+1)*c], x)
	case tensor.F16:
		row := m.u16[r*c : (r+1)*c]
		x = x[:c]
		var s0, s1 float32
		i := 0
		for ; i+2 <= c; i += 2 {
			s0 += f16Table[row[i]] * x[i]
			s1 += f16Table[row[i+1]] * x[i+1]
		}
		for ; i < c; i++ {
			s0 += f16Table[row[i]] * x[i]
		}
		return s0 + s1
	case tensor.BF16:
		row := m.u16[r*c : (r+1)*c]
		x = x[:c]
		var s0, s1 float32
		i := 0
		for ; i+2 <= c; i += 2 {
			s0 += math.Float32frombits(uint32(row[i])<<16) * x[i]
			s1 += math.Float32frombits(uint32(row[i+1])<<16) * x[i+1]
		}
		for ; i < c; i++ {
			s0 += math.Float32frombits(uint32(row[i])<<16) * x[i]
		}
		return s0 + s1
	}
	return quantRowDot(m.DType, m.Row(r), x)
}

// quantRowDot is the dot product of one quantized row with x.
func quantRowDot(dt tensor.DType, row []byte, x []float32) float32 {
	bb := dt.BlockBytes()
	be := dt.BlockElems()
	var sum float32
	switch dt {
	case tensor.Q8_0:
		for b := 0; b*bb < len(row); b++ {
			blk := row[b*bb : (b+1)*bb]
			xs := x[b*32 : b*32+32]
			d := f16Table[binary.LittleEndian.Uint16(blk)]
			q := blk[2:34]
			var s float32
			for j := 0; j < 32; j++ {
				s += float32(int8(q[j])) * xs[j]
			}
			sum += s * d
		}
	case tensor.Q4_0:
		for b := 0; b*bb < len(row); b++ {
			blk := row[b*bb : (b+1)*bb]
			xs := x[b*32 : b*32+32]
			d := f16Table[binary.LittleEndian.Uint16(blk)]
			q := blk[2:18]
			var s float32
			for j := 0; j < 16; j++ {
				s += float32(int(q[j]&0xf)-8)*xs[j] + float32(int(q[j]>>4)-8)*xs[j+16]
			}
			sum += s * d
		}
	case tensor.Q4_1:
		for b := 0; b*bb < len(row); b++ {
			blk := row[b*bb : (b+1)*bb]
			xs := x[b*32 : b*32+32]
			d := f16Table[binary.LittleEndian.Uint16(blk)]
			m := f16Table[binary.LittleEndian.Uint16(blk[2:])]
			q := blk[4:20]
			var s, sx float32
			for j := 0; j < 16; j++ {
				s += float32(q[j]&0xf)*xs[j] + float32(q[j]>>4)*xs[j+16]
				sx += xs[j] + xs[j+16]
			}
			sum += s*d + sx*m
		}
	case tensor.Q5_0:
		for b := 0; b*bb < len(row); b++ {
			blk := row[b*bb : (b+1)*bb]
			xs := x[b*32 : b*32+32]
			d := f16Table[binary.LittleEndian.Uint16(blk)]
			qh := binary.LittleEndian.Uint32(blk[2:])
			q := blk[6:22]
			var s float32
			for j := 0; j < 16; j++ {
				h0 := byte((qh>>uint(j))<<4) & 0x10
				h1 := byte(qh>>uint(j+12)) & 0x10
				s += float32(int(q[j]&0xf|h0)-16)*xs[j] + float32(int(q[j]>>4|h1)-16)*xs[j+16]
			}
			sum += s * d
		}
	case tensor.Q5_1:
		for b := 0; b*bb < len(row); b++ {
			blk := row[b*bb : (b+1)*bb]
			xs := x[b*32 : b*32+32]
			d := f16Table[binary.LittleEndian.Uint16(blk)]
			m := f16Table[binary.LittleEndian.Uint16(blk[2:])]
			qh := binary.LittleEndian.Uint32(blk[4:])
			q := blk[8:24]
			var s, sx float32
			for j := 0; j < 16; j++ {
				h0 := byte((qh>>uint(j))<<4) & 0x10
				h1 := byte(qh>>uint(j+12)) & 0x10
				s += float32(q[j]&0xf|h0)*xs[j] + float32(q[j]>>4|h1)*xs[j+16]
				sx += xs[j] + xs[j+16]
			}
			sum += s*d + sx*m
		}
	default:
		// k-quants: dequantize block by block (direct calls, so that buf
		// stays on the stack).
		var buf [256]float32
		for b := 0; b*bb < len(row); b++ {
			y := buf[:be]
			blk := row[b*bb : (b+1)*bb]
			switch dt {
			case tensor.Q4_K:
				tensor.DequantizeQ4K(blk, y)
			case tensor.Q5_K:
				tensor.DequantizeQ5K(blk, y)
			case tensor.Q6_K:
				tensor.DequantizeQ6K(blk, y)
			default:
				panic("kernels: no row dot for " + dt.String())
			}
			sum += dotGeneric(y, x[b*be:(b+1)*be])
		}
	}
	return sum
}

func matVecGeneric(m *Mat, x, y []float32, lo, hi int) {
	for r := lo; r < hi; r++ {
		y[r] = rowDot(m, r, x)
	}
}

// matMulGeneric widens each weight row once and reuses it for all T tokens.
func matMulGeneric(m *Mat, x []float32, T int, y []float32, ystride, lo, hi int, scratch []float32) {
	c := m.Cols
	for r := lo; r < hi; r++ {
		var row []float32
		if m.DType == tensor.F32 {
			row = m.f32[r*c : (r+1)*c]
		} else {
			row = scratch[:c]
			dequantRow(m, r, row)
		}
		for t := 0; t < T; t++ {
			y[t*ystride+r] = dotGeneric(row, x[t*c:(t+1)*c])
		}
	}
}

func dequantRow(m *Mat, r int, out []float32) {
	c := m.Cols
	switch m.DType {
	case tensor.F16:
		for i, h := range m.u16[r*c : (r+1)*c] {
			out[i] = f16Table[h]
		}
	case tensor.BF16:
		for i, h := range m.u16[r*c : (r+1)*c] {
			out[i] = math.Float32frombits(uint32(h) << 16)
		}
	default:
		_ = tensor.Dequantize(m.DType, m.Row(r), out)
	}
}

func wkv5Generic(H, N int, r, k, v, w, u, S, y []float32) {
	for h := 0; h < H; h++ {
		o := h * N
		yh := y[o : o+N]
		vh := v[o : o+N]
		for j := range yh {
			yh[j] = 0
		}
		for i := 0; i < N; i++ {
			ri, ki, wi := r[o+i], k[o+i], w[o+i]
			ruk := ri * u[o+i] * ki
			s := S[(o+i)*N : (o+i+1)*N]
			for j := 0; j < N; j++ {
				sij := s[j]
				yh[j] += ri*sij + ruk*vh[j]
				s[j] = sij*wi + ki*vh[j]
			}
		}
	}
}

func wkv7Generic(H, N int, r, dec, k, v, kk, b, S, y []float32) {
	for h := 0; h < H; h++ {
		o := h * N
		rh, dh, kh, kkh, bh := r[o:o+N], dec[o:o+N], k[o:o+N], kk[o:o+N], b[o:o+N]
		for i := 0; i < N; i++ {
			s := S[(o+i)*N : (o+i+1)*N]
			var sa float32
			for j := 0; j < N; j++ {
				sa -= s[j] * kkh[j]
			}
			vi := v[o+i]
			var yi float32
			for j := 0; j < N; j++ {
				sij := s[j]*dh[j] + sa*bh[j] + vi*kh[j]
				s[j] = sij
				yi += sij * rh[j]
			}
			y[o+i] = yi
		}
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
