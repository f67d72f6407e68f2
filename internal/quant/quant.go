// Package quant converts float32 weights into the block formats of
// internal/tensor, with ggml's reference rounding (spec §6.2), so files we
// write load in other ggml-based engines with the same values.
package quant

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// Quantize encodes src (a whole number of blocks) as dt into a new slice.
func Quantize(dt tensor.DType, src []float32) ([]byte, error) {
	n, err := dt.Bytes(int64(len(src)))
	if err != nil {
		return nil, err
	}
	dst := make([]byte, n)
	return dst, QuantizeInto(dt, src, dst)
}

// QuantizeInto is Quantize into dst, which must have the exact size.
func QuantizeInto(dt tensor.DType, src []float32, dst []byte) error {
	n, err := dt.Bytes(int64(len(src)))
	if err != nil {
		return err
	}
	if int64(len(dst)) != n {
		return fmt.Errorf("quantize: %d bytes for %d %s elements, want %d", len(dst), len(src), dt, n)
	}
	switch dt {
	case tensor.F32:
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
		return nil
	case tensor.F16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], tensor.F32ToF16(v))
		}
		return nil
	case tensor.BF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], tensor.F32ToBF16(v))
		}
		return nil
	}
	f := blockFuncs[dt]
	if f == nil {
		return fmt.Errorf("quantize: %s is not supported", dt)
	}
	be, bb := dt.BlockElems(), dt.BlockBytes()
	for b := 0; b < len(src)/be; b++ {
		f(src[b*be:(b+1)*be], dst[b*bb:(b+1)*bb])
	}
	return nil
}

var blockFuncs = map[tensor.DType]func(x []float32, out []byte){
	tensor.Q4_0: q4_0, tensor.Q4_1: q4_1, tensor.Q5_0: q5_0, tensor.Q5_1: q5_1, tensor.Q8_0: q8_0,
}

func putF16(b []byte, f float32) { binary.LittleEndian.PutUint16(b, tensor.F32ToF16(f)) }

// signedMax is the value of largest magnitude, with its sign.
func signedMax(x []float32) float32 {
	var amax, mx float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax, mx = a, v
		}
	}
	return mx
}

func minMax(x []float32) (float32, float32) {
	mn, mx := float32(math.MaxFloat32), float32(-math.MaxFloat32)
	for _, v := range x {
		mn = min(mn, v)
		mx = max(mx, v)
	}
	return mn, mx
}

func inv(d float32) float32 {
	if d == 0 {
		return 0
	}
	return 1 / d
}

func q4_0(x []float32, out []byte) {
	d := signedMax(x) / -8
	id := inv(d)
	putF16(out, d)
	for j := 0; j < 16; j++ {
		a := min(15, int8(x[j]*id+8.5))
		b := min(15, int8(x[j+16]*id+8.5))
		out[2+j] = byte(a) | byte(b)<<4
	}
}

func q4_1(x []float32, out []byte) {
	mn, mx := minMax(x)
	d := (mx - mn) / 15
	id := inv(d)
	putF16(out, d)
	putF16(out[2:], mn)
	for j := 0; j < 16; j++ {
		a := min(15, int8((x[j]-mn)*id+0.5))
		b := min(15, int8((x[j+16]-mn)*id+0.5))
		out[4+j] = byte(a) | byte(b)<<4
	}
}

func q5_0(x []float32, out []byte) {
	d := signedMax(x) / -16
	id := inv(d)
	putF16(out, d)
	var qh uint32
	for j := 0; j < 16; j++ {
		a := byte(min(31, int8(x[j]*id+16.5)))
		b := byte(min(31, int8(x[j+16]*id+16.5)))
		out[6+j] = a&0xf | (b&0xf)<<4
		qh |= uint32(a>>4&1) << j
		qh |= uint32(b>>4&1) << (j + 16)
	}
	binary.LittleEndian.PutUint32(out[2:], qh)
}

func q5_1(x []float32, out []byte) {
	mn, mx := minMax(x)
	d := (mx - mn) / 31
	id := inv(d)
	putF16(out, d)
	putF16(out[2:], mn)
	var qh uint32
	for j := 0; j < 16; j++ {
		a := byte((x[j]-mn)*id + 0.5)
		b := byte((x[j+16]-mn)*id + 0.5)
		out[8+j] = a&0xf | (b&0xf)<<4
		qh |= uint32(a>>4&1) << j
		qh |= uint32(b>>4&1) << (j + 16)
	}
	binary.LittleEndian.PutUint32(out[4:], qh)
}

func q8_0(x []float32, out []byte) {
	var amax float32
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	d := amax / 127
	id := inv(d)
	putF16(out, d)
	for j, v := range x {
		out[2+j] = byte(int8(math.Round(float64(v * id))))
	}
}
