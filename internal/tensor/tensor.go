package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"
)

// Tensor is a named, typed view over raw little-endian bytes. Shape is in
// PyTorch order (outermost dimension first, the last one contiguous). Data
// may point into a memory-mapped file; it must not be written.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// NumElems is the product of the shape (1 for a scalar).
func (t *Tensor) NumElems() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Check verifies that Data holds exactly the bytes the shape and type need.
func (t *Tensor) Check() error {
	n, err := ElemCount(t.Shape)
	if err != nil {
		return fmt.Errorf("tensor %s: %w", t.Name, err)
	}
	want, err := t.DType.Bytes(n)
	if err != nil {
		return fmt.Errorf("tensor %s: %w", t.Name, err)
	}
	if int64(len(t.Data)) != want {
		return fmt.Errorf("tensor %s: %d bytes of data, shape %v of %s needs %d", t.Name, len(t.Data), t.Shape, t.DType, want)
	}
	return nil
}

// ElemCount multiplies a shape, refusing negative dimensions and overflow.
func ElemCount(shape []int) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > math.MaxInt64/int64(d) {
			return 0, fmt.Errorf("shape %v overflows", shape)
		}
		n *= int64(d)
	}
	return n, nil
}

// Float32s returns the elements widened (or dequantized) to float32 in a new
// slice. Used for the small per-channel vectors; matrices stay in place.
func (t *Tensor) Float32s() ([]float32, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	out := make([]float32, t.NumElems())
	if err := Dequantize(t.DType, t.Data, out); err != nil {
		return nil, fmt.Errorf("tensor %s: %w", t.Name, err)
	}
	return out, nil
}

// AsFloat32 reinterprets little-endian bytes as []float32 without copying.
// rwkv.cpp files place tensors at any byte offset; the CPUs we alias on
// (amd64, arm64) load unaligned floats at full speed, so only other
// architectures, and race builds (whose pointer checks reject misaligned
// conversions), copy unaligned data.
func AsFloat32(b []byte) []float32 {
	n := len(b) / 4
	if n == 0 {
		return nil
	}
	if unalignedOK || uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// AsUint16 reinterprets little-endian bytes as []uint16 without copying (see
// AsFloat32 for when unaligned data is copied instead).
func AsUint16(b []byte) []uint16 {
	n := len(b) / 2
	if n == 0 {
		return nil
	}
	if unalignedOK || uintptr(unsafe.Pointer(&b[0]))%2 == 0 {
		return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), n)
	}
	out := make([]uint16, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return out
}

// Float32Bytes views a float32 slice as bytes (for writing files).
func Float32Bytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
}

// Dequantize converts len(dst) elements stored as dt in src to float32.
// len(dst) must be a whole number of blocks and src exactly their bytes.
// This scalar code is the reference the kernels are tested against.
func Dequantize(dt DType, src []byte, dst []float32) error {
	need, err := dt.Bytes(int64(len(dst)))
	if err != nil {
		return err
	}
	if int64(len(src)) != need {
		return fmt.Errorf("%d bytes for %d %s elements, want %d", len(src), len(dst), dt, need)
	}
	switch dt {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = F16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case Q4_0, Q4_1, Q5_0, Q5_1, Q8_0:
		be, bb := dt.BlockElems(), dt.BlockBytes()
		for b := 0; b < len(dst)/be; b++ {
			DequantizeBlock(dt, src[b*bb:(b+1)*bb], dst[b*be:(b+1)*be])
		}
	default:
		if DequantizeK == nil {
			return fmt.Errorf("no dequantizer for %s", dt)
		}
		be, bb := dt.BlockElems(), dt.BlockBytes()
		for b := 0; b < len(dst)/be; b++ {
			DequantizeK(dt, src[b*bb:(b+1)*bb], dst[b*be:(b+1)*be])
		}
	}
	return nil
}

// DequantizeBlock expands one quantized block (spec §6.2; k-quants per ggml).
func DequantizeBlock(dt DType, blk []byte, y []float32) {
	switch dt {
	case Q4_0:
		d := F16ToF32(binary.LittleEndian.Uint16(blk))
		qs := blk[2:18]
		for j := 0; j < 16; j++ {
			y[j] = float32(int(qs[j]&0xf)-8) * d
			y[j+16] = float32(int(qs[j]>>4)-8) * d
		}
	case Q4_1:
		d := F16ToF32(binary.LittleEndian.Uint16(blk))
		m := F16ToF32(binary.LittleEndian.Uint16(blk[2:]))
		qs := blk[4:20]
		for j := 0; j < 16; j++ {
			y[j] = float32(qs[j]&0xf)*d + m
			y[j+16] = float32(qs[j]>>4)*d + m
		}
	case Q5_0:
		d := F16ToF32(binary.LittleEndian.Uint16(blk))
		qh := binary.LittleEndian.Uint32(blk[2:])
		qs := blk[6:22]
		for j := 0; j < 16; j++ {
			h0 := byte((qh>>uint(j))<<4) & 0x10
			h1 := byte(qh>>uint(j+12)) & 0x10
			y[j] = float32(int(qs[j]&0xf|h0)-16) * d
			y[j+16] = float32(int(qs[j]>>4|h1)-16) * d
		}
	case Q5_1:
		d := F16ToF32(binary.LittleEndian.Uint16(blk))
		m := F16ToF32(binary.LittleEndian.Uint16(blk[2:]))
		qh := binary.LittleEndian.Uint32(blk[4:])
		qs := blk[8:24]
		for j := 0; j < 16; j++ {
			h0 := byte((qh>>uint(j))<<4) & 0x10
			h1 := byte(qh>>uint(j+12)) & 0x10
			y[j] = float32(qs[j]&0xf|h0)*d + m
			y[j+16] = float32(qs[j]>>4|h1)*d + m
		}
	case Q8_0:
		d := F16ToF32(binary.LittleEndian.Uint16(blk))
		for j := 0; j < 32; j++ {
			y[j] = float32(int8(blk[2+j])) * d
		}
	}
}

// DequantizeK expands one k-quant super-block; set by the package that
// implements them. Loaders refuse k-quant tensors while it is nil.
var DequantizeK func(dt DType, blk []byte, y []float32)
