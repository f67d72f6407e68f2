package model

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// State is one session's recurrent state: per layer, in this order,
// att_x (C), then v4: aa, bb, pp (A each) or v5+: the WKV matrices (H·N·N),
// then ffn_x (C) — the layout of the reference fixtures' state.bin. Copying
// it is a snapshot; it is a few MB at most.
type State struct {
	Data []float32
	cfg  *Config
}

// NewState returns the initial state of m.
func (m *Model) NewState() *State {
	// make gives zeros without touching the pages, which for a large
	// model is a measurable part of the time to the first token.
	s := &State{Data: make([]float32, m.Cfg.StateFloats()), cfg: &m.Cfg}
	s.initV4()
	return s
}

// Reset sets the initial values: zeros, and v4's pp = −1e30.
func (s *State) Reset() {
	clear(s.Data)
	s.initV4()
}

func (s *State) initV4() {
	if s.cfg.Major() == 4 {
		for l := 0; l < s.cfg.Layers; l++ {
			pp := s.pp(l)
			for i := range pp {
				pp[i] = -1e30
			}
		}
	}
}

// Clone returns an independent copy.
func (s *State) Clone() *State {
	return &State{Data: append([]float32(nil), s.Data...), cfg: s.cfg}
}

// CopyFrom overwrites s with o (same model); no allocation.
func (s *State) CopyFrom(o *State) { copy(s.Data, o.Data) }

func (s *State) layer(l int) []float32 {
	n := s.cfg.layerFloats()
	return s.Data[l*n : (l+1)*n]
}

func (s *State) attX(l int) []float32 { return s.layer(l)[:s.cfg.Embd] }

func (s *State) ffnX(l int) []float32 {
	d := s.layer(l)
	return d[len(d)-s.cfg.Embd:]
}

// wkv is the per-layer WKV matrix block (v5+).
func (s *State) wkv(l int) []float32 {
	d := s.layer(l)
	return d[s.cfg.Embd : len(d)-s.cfg.Embd]
}

func (s *State) aa(l int) []float32 { c, a := s.cfg.Embd, s.cfg.Att; return s.layer(l)[c : c+a] }
func (s *State) bb(l int) []float32 { c, a := s.cfg.Embd, s.cfg.Att; return s.layer(l)[c+a : c+2*a] }
func (s *State) pp(l int) []float32 {
	c, a := s.cfg.Embd, s.cfg.Att
	return s.layer(l)[c+2*a : c+3*a]
}

const stateMagic = "RWKVSTA1"

// MarshalBinary writes a self-describing state: magic, version string,
// dims, float count, data, CRC-32 of everything before it.
func (s *State) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(stateMagic)
	v := s.cfg.Version
	hdr := []uint32{uint32(len(v))}
	_ = binary.Write(&b, binary.LittleEndian, hdr)
	b.WriteString(v)
	dims := []uint32{uint32(s.cfg.Layers), uint32(s.cfg.Embd), uint32(s.cfg.Att), uint32(s.cfg.Heads), uint32(s.cfg.HeadSize), uint32(len(s.Data))}
	_ = binary.Write(&b, binary.LittleEndian, dims)
	b.Write(tensor.Float32Bytes(s.Data))
	_ = binary.Write(&b, binary.LittleEndian, crc32.ChecksumIEEE(b.Bytes()))
	return b.Bytes(), nil
}

// UnmarshalBinary reads what MarshalBinary wrote, refusing a state of
// another shape or a damaged one.
func (s *State) UnmarshalBinary(p []byte) error {
	if len(p) < len(stateMagic)+4+4 || string(p[:len(stateMagic)]) != stateMagic {
		return errors.New("not an rwkv-chat state (bad magic)")
	}
	body, sum := p[:len(p)-4], binary.LittleEndian.Uint32(p[len(p)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return errors.New("state is damaged (checksum mismatch)")
	}
	r := bytes.NewReader(body[len(stateMagic):])
	var vl uint32
	if err := binary.Read(r, binary.LittleEndian, &vl); err != nil || vl > 16 {
		return errors.New("state header is damaged")
	}
	v := make([]byte, vl)
	if _, err := io.ReadFull(r, v); err != nil {
		return errors.New("state header is truncated")
	}
	var dims [6]uint32
	if err := binary.Read(r, binary.LittleEndian, &dims); err != nil {
		return errors.New("state header is truncated")
	}
	c := s.cfg
	want := [6]uint32{uint32(c.Layers), uint32(c.Embd), uint32(c.Att), uint32(c.Heads), uint32(c.HeadSize), uint32(len(s.Data))}
	if string(v) != c.Version || dims != want {
		return fmt.Errorf("state is for an RWKV-%s model with %d layers × %d channels, this model is RWKV-%s with %d × %d",
			v, dims[0], dims[1], c.Version, c.Layers, c.Embd)
	}
	if r.Len() != 4*len(s.Data) {
		return errors.New("state data is truncated")
	}
	off := len(body) - r.Len()
	for i := range s.Data {
		s.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[off+4*i:]))
	}
	return nil
}
