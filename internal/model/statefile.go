package model

import (
	"fmt"
	"strings"

	"github.com/rwkv-chat/rwkv-chat/internal/format"
)

// LoadStateFile reads a state-tuning file (spec §12: one tensor
// blocks.{i}.att.time_state of shape (H, N, N) per layer, laid out
// [head][value][key]) as an initial state for m. v5/v6 keep the matrix as
// [head][key][value], so it is transposed; v7 uses it as is. The token-shift
// parts start at zero.
func (m *Model) LoadStateFile(path string) (*State, error) {
	f, err := format.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c := &m.Cfg
	if c.Major() < 5 {
		return nil, fmt.Errorf("%s: state files exist for RWKV-5 and later, this model is RWKV-%s", path, c.Version)
	}
	n := 0
	for _, t := range f.Tensors {
		if strings.HasSuffix(t.Name, ".att.time_state") {
			n++
		}
	}
	if n != c.Layers {
		return nil, fmt.Errorf("%s: %d time_state tensors, this model has %d layers", path, n, c.Layers)
	}
	st := m.NewState()
	H, N := c.Heads, c.HeadSize
	for l := 0; l < c.Layers; l++ {
		name := fmt.Sprintf("blocks.%d.att.time_state", l)
		t := f.Get(name)
		if t == nil {
			return nil, fmt.Errorf("%s: missing tensor %s", path, name)
		}
		if t.NumElems() != H*N*N {
			return nil, fmt.Errorf("%s: tensor %s has shape %v, this model needs (%d, %d, %d)", path, name, t.Shape, H, N, N)
		}
		v, err := t.Float32s()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		S := st.wkv(l)
		if c.Major() == 7 {
			copy(S, v)
			continue
		}
		for h := 0; h < H; h++ {
			for i := 0; i < N; i++ {
				for j := 0; j < N; j++ {
					S[(h*N+j)*N+i] = v[(h*N+i)*N+j]
				}
			}
		}
	}
	return st, nil
}
