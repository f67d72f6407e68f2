package model

import (
	"fmt"

	"github.com/rwkv-chat/rwkv-chat/internal/format"
)

// Open loads a model file of any supported format. The returned model keeps
// the file mapped; Close releases it.
func Open(path string, opt Options) (*Model, error) {
	f, err := format.Open(path)
	if err != nil {
		return nil, err
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

// Close unmaps the model file. The model must not be used afterwards.
func (m *Model) Close() error {
	if m.file == nil {
		return nil
	}
	err := m.file.Close()
	m.file = nil
	return err
}
