package format

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

const (
	maxPickleSize    = 256 << 20 // data.pkl
	maxInflatedEntry = 1 << 32   // a compressed storage entry, once inflated
	maxDeflateRatio  = 1100      // deflate cannot do better than ~1032:1
	// Compressed entries are inflated into memory: together they may take
	// at most inflateFactor times the archive's size (and at least
	// minInflateBudget), so a small zip bomb is refused before it inflates.
	inflateFactor     = 16
	minInflateBudget  = 32 << 20
	pthDescendKey     = "state_dict"
	preconvertedHint  = "ChatRWKV pre-converted file (key %s); load the original .pth checkpoint instead"
	storageEntryLabel = "data/"
)

// preconvertedKeys mark ChatRWKV's converted files (spec §2.1).
var preconvertedKeys = []string{"_strategy", "_version", "_rescale_layer"}

// parsePth reads a torch.save zip archive (spec §2.1).
func (f *File) parsePth(data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return fmt.Errorf("zip archive: %w", err)
	}
	var pkl *zip.File
	entries := make(map[string]*zip.File, len(zr.File))
	for _, e := range zr.File {
		entries[e.Name] = e
		if e.Name == "data.pkl" || strings.HasSuffix(e.Name, "/data.pkl") {
			if pkl != nil {
				return fmt.Errorf("archive holds several data.pkl (%s, %s)", quoteName(pkl.Name), quoteName(e.Name))
			}
			pkl = e
		}
	}
	if pkl == nil {
		return errors.New("zip archive without data.pkl: not a torch.save file")
	}
	prefix := strings.TrimSuffix(pkl.Name, "data.pkl")
	budget := max(minInflateBudget, inflateFactor*int64(len(data)))
	if e := entries[prefix+"byteorder"]; e != nil {
		b, err := entryBytes(data, e, 64, &budget)
		if err != nil {
			return err
		}
		if s := strings.TrimSpace(string(b)); s != "little" {
			return fmt.Errorf("byteorder %s: only little-endian files are supported", quoteName(s))
		}
	}
	pklBytes, err := entryBytes(data, pkl, maxPickleSize, &budget)
	if err != nil {
		return err
	}
	storage := func(key string) ([]byte, error) {
		name := prefix + storageEntryLabel + key
		e := entries[name]
		if e == nil {
			return nil, fmt.Errorf("storage %s: archive has no entry %s", quoteName(key), quoteName(name))
		}
		return entryBytes(data, e, maxInflatedEntry, &budget)
	}
	f.Tensors, err = pthTensors(pklBytes, storage)
	return err
}

// entryBytes returns the contents of a zip entry: a slice of data when it is
// stored, a new buffer when it is compressed. limit caps the size; budget is
// what the archive's compressed entries may still inflate to, and is spent.
func entryBytes(data []byte, e *zip.File, limit uint64, budget *int64) ([]byte, error) {
	name := quoteName(e.Name)
	if e.UncompressedSize64 > limit {
		return nil, fmt.Errorf("entry %s: %d bytes is more than the %d allowed", name, e.UncompressedSize64, limit)
	}
	off, err := e.DataOffset()
	if err != nil {
		return nil, fmt.Errorf("entry %s: %w", name, err)
	}
	size := int64(len(data))
	if off < 0 || e.CompressedSize64 > uint64(size) || off > size-int64(e.CompressedSize64) {
		return nil, truncErr("zip entry "+name, int64(min(e.CompressedSize64, math.MaxInt64)), off, size)
	}
	if e.Method == zip.Store {
		if e.CompressedSize64 != e.UncompressedSize64 {
			return nil, fmt.Errorf("entry %s: stored with %d bytes but declares %d", name, e.CompressedSize64, e.UncompressedSize64)
		}
		n := int64(e.CompressedSize64)
		return data[off : off+n : off+n], nil
	}
	if e.UncompressedSize64 > maxDeflateRatio*(e.CompressedSize64+1) {
		return nil, fmt.Errorf("entry %s: declared size %d is impossible for %d compressed bytes", name, e.UncompressedSize64, e.CompressedSize64)
	}
	if e.UncompressedSize64 > uint64(*budget) {
		return nil, fmt.Errorf("entry %s: %d bytes compressed to %d: the archive's compressed entries would inflate to more than %d times its size (a zip bomb?); torch.save stores them uncompressed",
			name, e.UncompressedSize64, e.CompressedSize64, inflateFactor)
	}
	*budget -= int64(e.UncompressedSize64)
	rc, err := e.Open()
	if err != nil {
		return nil, fmt.Errorf("entry %s: %w", name, err)
	}
	defer rc.Close()
	// The declared size is within the budget: read exactly that much, then
	// to EOF (which checks the CRC).
	buf := make([]byte, e.UncompressedSize64)
	n, err := io.ReadFull(rc, buf)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return nil, fmt.Errorf("entry %s: inflates to %d bytes, declares %d", name, n, e.UncompressedSize64)
	}
	if err == nil {
		var one [1]byte
		if n, err = rc.Read(one[:]); n > 0 {
			return nil, fmt.Errorf("entry %s: inflates to more than the %d bytes it declares", name, e.UncompressedSize64)
		}
		if err == io.EOF {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("entry %s: %w", name, err)
	}
	return buf, nil
}

// pthTensors runs the pickle and resolves its tensors against the storages
// that storage returns for a key.
func pthTensors(pkl []byte, storage func(key string) ([]byte, error)) ([]*tensor.Tensor, error) {
	v, err := unpickle(pkl)
	if err != nil {
		return nil, err
	}
	d, ok := v.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("data.pkl holds a %s, want a dict of tensors", pyTypeName(v))
	}
	if len(d.keys) == 1 && d.keys[0] == pthDescendKey {
		if inner, ok := d.vals[0].(*pyDict); ok {
			d = inner
		}
	}
	for _, k := range preconvertedKeys {
		if _, ok := d.get(k); ok {
			return nil, fmt.Errorf(preconvertedHint, k)
		}
	}
	if len(d.keys) > maxTensors {
		return nil, fmt.Errorf("more than %d tensors", maxTensors)
	}
	cache := map[string][]byte{}
	out := make([]*tensor.Tensor, 0, len(d.keys))
	for i, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("state dict key #%d is a %s, want a string", i, pyTypeName(k))
		}
		pt, ok := d.vals[i].(*pyTensor)
		if !ok {
			return nil, fmt.Errorf("entry %s is a %s, not a tensor", quoteName(name), pyTypeName(d.vals[i]))
		}
		t, err := materialize(name, pt, cache, storage)
		if err != nil {
			return nil, fmt.Errorf("tensor %s: %w", quoteName(name), err)
		}
		out = append(out, t)
	}
	return out, nil
}

// materialize checks a tensor's view against its storage and returns it as
// contiguous bytes: a slice of the storage when the view is contiguous, a
// copy otherwise.
func materialize(name string, pt *pyTensor, cache map[string][]byte, storage func(string) ([]byte, error)) (*tensor.Tensor, error) {
	st := pt.storage
	raw, ok := cache[st.key]
	if !ok {
		var err error
		if raw, err = storage(st.key); err != nil {
			return nil, err
		}
		cache[st.key] = raw
	}
	dt, err := tensor.ParseDType(st.dtype)
	if err != nil {
		return nil, err
	}
	es := int64(dt.BlockBytes())
	if st.numel > int64(len(raw))/es {
		return nil, fmt.Errorf("storage %s declares %d %s elements (%d bytes) but its entry has %d bytes",
			quoteName(st.key), st.numel, dt, st.numel*es, len(raw))
	}
	shape := make([]int, len(pt.size))
	for i, s := range pt.size {
		shape[i] = int(s)
	}
	count, err := tensor.ElemCount(shape)
	if err != nil {
		return nil, err
	}
	t := &tensor.Tensor{Name: name, DType: dt, Shape: shape}
	if count == 0 {
		t.Data = []byte{}
		return t, nil
	}
	// Highest element index the view touches, with overflow checks.
	last := pt.offset
	contiguous, want := true, int64(1)
	for d := len(pt.size) - 1; d >= 0; d-- {
		sz, sd := pt.size[d], pt.stride[d]
		if sd != 0 && sz-1 > (math.MaxInt64-last)/sd {
			return nil, errors.New("size and stride overflow")
		}
		last += (sz - 1) * sd
		if sz != 1 && sd != want {
			contiguous = false
		}
		want *= sz // ≤ count, no overflow
	}
	if last >= st.numel {
		return nil, fmt.Errorf("view (offset %d, size %v, stride %v) reaches element %d of a storage of %d",
			pt.offset, pt.size, pt.stride, last, st.numel)
	}
	if contiguous {
		lo, hi := pt.offset*es, (pt.offset+count)*es
		t.Data = raw[lo:hi:hi]
		return t, nil
	}
	if count > st.numel {
		return nil, fmt.Errorf("non-contiguous view of %d elements is larger than its storage of %d", count, st.numel)
	}
	t.Data = gather(raw, es, pt.offset, pt.size, pt.stride, count)
	return t, nil
}

// gather copies a strided view into a new row-major buffer.
func gather(raw []byte, es, offset int64, size, stride []int64, count int64) []byte {
	out := make([]byte, count*es)
	idx := make([]int64, len(size))
	src := offset
	for o := int64(0); o < count; o++ {
		copy(out[o*es:(o+1)*es], raw[src*es:(src+1)*es])
		for d := len(size) - 1; d >= 0; d-- {
			idx[d]++
			src += stride[d]
			if idx[d] < size[d] {
				break
			}
			src -= idx[d] * stride[d]
			idx[d] = 0
		}
	}
	return out
}
