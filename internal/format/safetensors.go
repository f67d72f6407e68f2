package format

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

type stEntry struct {
	DType       string `json:"dtype"`
	Shape       stInts `json:"shape"`
	DataOffsets stInts `json:"data_offsets"`
}

// stInts is a JSON list of a few integers. A longer list is refused before
// it is decoded: a header of 100 MB could otherwise claim a shape of 50
// million dimensions and take 400 MB.
type stInts []int64

const stMaxInts = 64

func (s *stInts) UnmarshalJSON(b []byte) error {
	if bytes.Count(b, []byte{','}) >= stMaxInts {
		return fmt.Errorf("a list of more than %d numbers", stMaxInts)
	}
	return json.Unmarshal(b, (*[]int64)(s))
}

var stDTypes = map[string]tensor.DType{"F32": tensor.F32, "F16": tensor.F16, "BF16": tensor.BF16}

// parseSafetensors reads a safetensors file (spec §8): u64 header length,
// JSON header, data. Tensors come in header order.
func (f *File) parseSafetensors(data []byte) error {
	size := int64(len(data))
	if size < 8 {
		return truncErr("the safetensors header length", 8, 0, size)
	}
	hl := binary.LittleEndian.Uint64(data)
	if hl > maxHeaderSz {
		return fmt.Errorf("safetensors header of %d bytes is larger than the %d allowed", hl, maxHeaderSz)
	}
	if int64(hl) > size-8 {
		return truncErr("the safetensors JSON header", int64(hl), 8, size)
	}
	base := 8 + int64(hl)
	body := data[base:]

	dec := json.NewDecoder(bytes.NewReader(data[8:base]))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("safetensors header is not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("safetensors header: %w", err)
		}
		name, _ := tok.(string)
		if seen[name] {
			return fmt.Errorf("safetensors header names %s twice", quoteName(name))
		}
		seen[name] = true
		if name == "__metadata__" {
			if err := f.stMeta(dec); err != nil {
				return err
			}
			continue
		}
		if len(f.Tensors) >= maxTensors {
			return fmt.Errorf("more than %d tensors", maxTensors)
		}
		var e stEntry
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("safetensors header, tensor %s: %w", quoteName(name), err)
		}
		t, err := stTensor(name, &e, body, base, size)
		if err != nil {
			return err
		}
		f.Tensors = append(f.Tensors, t)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return fmt.Errorf("safetensors header: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("safetensors header: data after the JSON object")
	}
	return nil
}

func (f *File) stMeta(dec *json.Decoder) error {
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("safetensors __metadata__: %w", err)
	}
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(v) // not a string: keep the JSON text
		}
		f.Meta[k] = s
	}
	return nil
}

func stTensor(name string, e *stEntry, body []byte, base, size int64) (*tensor.Tensor, error) {
	qn := quoteName(name)
	dt, ok := stDTypes[e.DType]
	if !ok {
		return nil, fmt.Errorf("tensor %s has dtype %s; only F32, F16 and BF16 are supported", qn, quoteName(e.DType))
	}
	if len(e.Shape) > maxDims {
		return nil, fmt.Errorf("tensor %s has %d dimensions (at most %d)", qn, len(e.Shape), maxDims)
	}
	shape := make([]int, len(e.Shape))
	for i, d := range e.Shape {
		if d < 0 || d > maxDim {
			return nil, fmt.Errorf("tensor %s has invalid shape %v", qn, e.Shape)
		}
		shape[i] = int(d)
	}
	n, err := tensor.ElemCount(shape)
	if err != nil {
		return nil, fmt.Errorf("tensor %s: %w", qn, err)
	}
	nb, err := dt.Bytes(n)
	if err != nil {
		return nil, fmt.Errorf("tensor %s: %w", qn, err)
	}
	if len(e.DataOffsets) != 2 {
		return nil, fmt.Errorf("tensor %s: data_offsets has %d entries, want 2", qn, len(e.DataOffsets))
	}
	b, end := e.DataOffsets[0], e.DataOffsets[1]
	if b < 0 || end < b {
		return nil, fmt.Errorf("tensor %s: invalid data_offsets [%d, %d]", qn, b, end)
	}
	if end-b != nb {
		return nil, fmt.Errorf("tensor %s: data_offsets [%d, %d] span %d bytes, shape %v of %s needs %d", qn, b, end, end-b, shape, dt, nb)
	}
	if end > int64(len(body)) {
		return nil, truncErr("tensor "+qn, nb, base+min(b, math.MaxInt64-base), size) // no overflow into a negative offset
	}
	return &tensor.Tensor{Name: name, DType: dt, Shape: shape, Data: body[b:end:end]}, nil
}
