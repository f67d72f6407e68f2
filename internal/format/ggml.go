package format

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// ggmlType maps a ggml type id (spec §6.2) to a tensor type. ok is false for
// ids the engine cannot read; why then says what the id is.
func ggmlType(id uint32) (dt tensor.DType, why string, ok bool) {
	switch id {
	case 0:
		return tensor.F32, "", true
	case 1:
		return tensor.F16, "", true
	case 2:
		return tensor.Q4_0, "", true
	case 3:
		return tensor.Q4_1, "", true
	case 7:
		return tensor.Q5_0, "", true
	case 8:
		return tensor.Q5_1, "", true
	case 9:
		return tensor.Q8_0, "", true
	case 4, 5, 6:
		return 0, fmt.Sprintf("obsolete ggml type %d (Q4_1_O/Q4_2/Q4_3); re-quantize the model with current rwkv.cpp", id), false
	case 10, 11, 12, 13, 14, 15, 16:
		return 0, fmt.Sprintf("unsupported ggml type %d (Q8_1 or a k-quant)", id), false
	}
	return 0, fmt.Sprintf("unknown ggml type %d", id), false
}

// parseGGML reads an rwkv.cpp model file (spec §6.1).
func (f *File) parseGGML(data []byte) error {
	size := int64(len(data))
	const hdr = 24
	if size < hdr {
		return truncErr("the rwkv.cpp header", hdr, 0, size)
	}
	u32 := func(off int64) uint32 { return binary.LittleEndian.Uint32(data[off:]) }
	version := u32(4)
	nVocab, nEmbed, nLayer, dataType := u32(8), u32(12), u32(16), u32(20)
	if version != 100 && version != 101 {
		return fmt.Errorf("unsupported rwkv.cpp file version %d (want 100 or 101)", version)
	}
	fileDT, why, ok := ggmlType(dataType)
	if !ok {
		return fmt.Errorf("header data type: %s", why)
	}
	if version == 100 && fileDT.Quantized() {
		return fmt.Errorf("quantized rwkv.cpp file of version 100 (ggml before 2023-05) cannot be read; re-quantize it with current rwkv.cpp")
	}
	f.Meta["file_version"] = strconv.FormatUint(uint64(version), 10)
	f.Meta["n_vocab"] = strconv.FormatUint(uint64(nVocab), 10)
	f.Meta["n_embed"] = strconv.FormatUint(uint64(nEmbed), 10)
	f.Meta["n_layer"] = strconv.FormatUint(uint64(nLayer), 10)
	f.Meta["data_type"] = strconv.FormatUint(uint64(dataType), 10)
	f.Meta["data_type_name"] = fileDT.String()

	off := int64(hdr)
	for off < size {
		idx := len(f.Tensors)
		if idx >= maxTensors {
			return fmt.Errorf("more than %d tensors", maxTensors)
		}
		if size-off < 12 {
			return truncErr(fmt.Sprintf("the header of tensor #%d", idx), 12, off, size)
		}
		nDims, keyLen, typ := u32(off), u32(off+4), u32(off+8)
		if nDims < 1 || nDims > 4 {
			return fmt.Errorf("tensor #%d at offset %d: %d dimensions (want 1 to 4)", idx, off, nDims)
		}
		if keyLen < 1 || keyLen > maxNameLen {
			return fmt.Errorf("tensor #%d at offset %d: name length %d (want 1 to %d)", idx, off, keyLen, maxNameLen)
		}
		off += 12
		if need := int64(4 * nDims); size-off < need {
			return truncErr(fmt.Sprintf("the dimensions of tensor #%d", idx), need, off, size)
		}
		shape := make([]int, nDims)
		for i := range shape {
			d := u32(off + 4*int64(i))
			if d == 0 {
				return fmt.Errorf("tensor #%d at offset %d: dimension %d is 0", idx, off-12, i)
			}
			shape[int(nDims)-1-i] = int(d) // ggml ne[0] is the innermost dimension
		}
		off += 4 * int64(nDims)
		if size-off < int64(keyLen) {
			return truncErr(fmt.Sprintf("the name of tensor #%d", idx), int64(keyLen), off, size)
		}
		name := string(data[off : off+int64(keyLen)])
		off += int64(keyLen)
		dt, why, ok := ggmlType(typ)
		if !ok {
			return fmt.Errorf("tensor %s: %s", quoteName(name), why)
		}
		if version == 100 && dt.Quantized() {
			return fmt.Errorf("tensor %s: quantized tensor in an rwkv.cpp file of version 100 cannot be read; re-quantize with current rwkv.cpp", quoteName(name))
		}
		if be := dt.BlockElems(); shape[len(shape)-1]%be != 0 {
			return fmt.Errorf("tensor %s: rows of %d elements are not a whole number of %s blocks (%d)", quoteName(name), shape[len(shape)-1], dt, be)
		}
		n, err := tensor.ElemCount(shape)
		if err != nil {
			return fmt.Errorf("tensor %s: %w", quoteName(name), err)
		}
		nb, err := dt.Bytes(n)
		if err != nil {
			return fmt.Errorf("tensor %s: shape %v: %w", quoteName(name), shape, err)
		}
		if size-off < nb {
			return truncErr("tensor "+quoteName(name), nb, off, size)
		}
		f.Tensors = append(f.Tensors, &tensor.Tensor{Name: name, DType: dt, Shape: shape, Data: data[off : off+nb : off+nb]})
		off += nb
	}
	return nil
}
