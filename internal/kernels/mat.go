package kernels

import (
	"fmt"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// Mat is a weight matrix stored (out, in): Rows output units, each a row of
// Cols elements of DType. Quantization blocks run along a row. Data usually
// points into a memory-mapped file and is never written.
type Mat struct {
	DType    tensor.DType
	Rows     int
	Cols     int
	RowBytes int
	Data     []byte

	f32 []float32 // aligned view of Data when DType is F32
	u16 []uint16  // aligned view of Data when DType is F16 or BF16
}

// NewMat checks the sizes and builds the typed views. Float data that is not
// aligned to its element size (rwkv.cpp files have no padding) is copied once.
func NewMat(dt tensor.DType, rows, cols int, data []byte) (*Mat, error) {
	if rows <= 0 || cols <= 0 {
		return nil, fmt.Errorf("matrix %dx%d has no elements", rows, cols)
	}
	rb, err := dt.Bytes(int64(cols))
	if err != nil {
		return nil, fmt.Errorf("matrix row of %d: %w", cols, err)
	}
	if int64(len(data)) != rb*int64(rows) {
		return nil, fmt.Errorf("matrix %dx%d %s needs %d bytes, have %d", rows, cols, dt, rb*int64(rows), len(data))
	}
	m := &Mat{DType: dt, Rows: rows, Cols: cols, RowBytes: int(rb), Data: data}
	switch dt {
	case tensor.F32:
		m.f32 = tensor.AsFloat32(data)
	case tensor.F16, tensor.BF16:
		m.u16 = tensor.AsUint16(data)
	}
	return m, nil
}

// F32 returns the matrix as float32 rows (only for DType F32).
func (m *Mat) F32() []float32 { return m.f32 }

// U16 returns the raw half-precision elements (only for F16 and BF16).
func (m *Mat) U16() []uint16 { return m.u16 }

// Row returns the raw bytes of row r.
func (m *Mat) Row(r int) []byte { return m.Data[r*m.RowBytes : (r+1)*m.RowBytes] }

// Bytes is the size of the weights, the bytes a decode step reads.
func (m *Mat) Bytes() int { return m.Rows * m.RowBytes }
