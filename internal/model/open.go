package model

import (
	"fmt"
	"strconv"

	"github.com/rwkv-chat/rwkv-chat/internal/format"
	"github.com/rwkv-chat/rwkv-chat/internal/pagecache"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// Open loads a model file of any supported format. The returned model keeps
// the file mapped; Close releases it.
func Open(path string, opt Options) (*Model, error) {
	f, err := format.Open(path)
	if err != nil {
		return nil, err
	}
	if f.Format == format.FormatGGUF && opt.RescaleEvery == 0 {
		// llama.cpp's RWKV-6 GGUF files have the fp16 rescale baked into
		// the weights (spec §5.2, §7): the residual stream must be halved
		// after every n layers to undo it.
		if v := f.Meta[format.MetaRescaleEvery]; v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				f.Close()
				return nil, fmt.Errorf("%s: bad %s %q", path, format.MetaRescaleEvery, v)
			}
			opt.RescaleEvery = n
		}
	}
	m, err := fromTensors(f.Tensors, f.Transformed, opt, opt.Progress != nil && coldFile(f.Tensors))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.file = f
	m.Format = f.Format
	return m, nil
}

// Residency sampling: a file counts as in the page cache when at least
// residentEnough of residencySamples pages spread over its weights are.
const (
	residencySamples = 128
	residentEnough   = 0.9
)

// coldFile reports whether the weights the model reads at every token (all
// but the embedding table, see loader.inPlace) are mostly not in RAM, so
// that the first token would wait for the disk. It samples a few pages
// with mincore (Linux); where that cannot be asked it says no, and the file
// is left to be paged in on use as before.
func coldFile(ts []*tensor.Tensor) bool {
	regions := make([][]byte, 0, len(ts))
	for _, t := range ts {
		if t.Name != "emb.weight" {
			regions = append(regions, t.Data)
		}
	}
	frac, ok := pagecache.Resident(regions, residencySamples)
	return ok && frac < residentEnough
}

// File is the opened model file (its Meta, and for GGUF files the
// tokenizer stored in it: File.WorldTokens); nil for models built with
// FromTensors.
func (m *Model) File() *format.File { return m.file }

// Close unmaps the model file. The model must not be used afterwards.
func (m *Model) Close() error {
	if m.file == nil {
		return nil
	}
	err := m.file.Close()
	m.file = nil
	return err
}
