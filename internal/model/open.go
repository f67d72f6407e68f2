package model

import (
	"fmt"
	"strconv"

	"github.com/rwkv-chat/rwkv-chat/internal/format"
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
	m, err := FromTensors(f.Tensors, f.Transformed, opt)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.file = f
	m.Format = f.Format
	return m, nil
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
