package chat

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"

	"github.com/rwkv-chat/rwkv-chat/internal/fsutil"
	"github.com/rwkv-chat/rwkv-chat/internal/model"
)

// A session file: magic, u32 header length, JSON header, three states
// (live, start, before-last-turn) each as u32 length + model.State bytes,
// and a CRC-32 of everything before it. It is written atomically.
const (
	sessionMagic  = "RWKVSESS"
	sessionFormat = 1
	maxHeader     = 64 << 20
)

type sessionHeader struct {
	Format      int        `json:"format"`
	Fingerprint string     `json:"model_fingerprint"`
	Model       string     `json:"model"` // human-readable: version and dims
	Template    string     `json:"template"`
	System      string     `json:"system"`
	NoPrime     bool       `json:"no_prime"`
	Settings    Settings   `json:"settings"`
	Transcript  []Exchange `json:"transcript"`
	Fed         int        `json:"fed_tokens"`
}

func describe(m *model.Model) string {
	c := m.Cfg
	return fmt.Sprintf("RWKV-%s, %d layers × %d, vocab %d", c.Version, c.Layers, c.Embd, c.Vocab)
}

// MarshalBinary encodes the whole conversation.
func (s *Session) MarshalBinary() ([]byte, error) {
	h := sessionHeader{Format: sessionFormat, Fingerprint: s.m.Fingerprint(), Model: describe(s.m),
		Template: s.tmpl.Name, System: s.system, NoPrime: s.noPrime, Settings: s.set, Transcript: s.Transcript, Fed: s.Fed}
	js, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(sessionMagic)
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(js)))
	b.Write(js)
	for _, st := range []*model.State{s.state, s.start, s.before} {
		sb, err := st.MarshalBinary()
		if err != nil {
			return nil, err
		}
		_ = binary.Write(&b, binary.LittleEndian, uint32(len(sb)))
		b.Write(sb)
	}
	_ = binary.Write(&b, binary.LittleEndian, crc32.ChecksumIEEE(b.Bytes()))
	return b.Bytes(), nil
}

// Save writes the session to path atomically (temp file, fsync, rename).
func (s *Session) Save(path string) error {
	data, err := s.MarshalBinary()
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, data, 0o600)
}

// Load replaces the conversation with the one saved at path. A file that is
// damaged or was saved with another model is refused and s is unchanged.
func (s *Session) Load(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading session: %w", err)
	}
	if err := s.UnmarshalBinary(data); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// UnmarshalBinary is Load from bytes.
func (s *Session) UnmarshalBinary(data []byte) error {
	if len(data) < len(sessionMagic)+8 || string(data[:len(sessionMagic)]) != sessionMagic {
		return errors.New("not an rwkv-chat session file")
	}
	body := data[:len(data)-4]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return errors.New("session file is damaged or truncated (checksum mismatch)")
	}
	p := body[len(sessionMagic):]
	next := func() ([]byte, error) {
		if len(p) < 4 {
			return nil, errors.New("session file is truncated")
		}
		n := binary.LittleEndian.Uint32(p)
		if uint64(n) > uint64(len(p)-4) || n > maxHeader*4 {
			return nil, errors.New("session file is truncated")
		}
		out := p[4 : 4+n]
		p = p[4+n:]
		return out, nil
	}
	js, err := next()
	if err != nil {
		return err
	}
	var h sessionHeader
	if err := json.Unmarshal(js, &h); err != nil {
		return fmt.Errorf("session header: %w", err)
	}
	if h.Format != sessionFormat {
		return fmt.Errorf("session file format %d is not supported (want %d)", h.Format, sessionFormat)
	}
	if h.Fingerprint != s.m.Fingerprint() {
		return fmt.Errorf("session was saved with another model (%s), not this one (%s)", h.Model, describe(s.m))
	}
	states := []*model.State{s.m.NewState(), s.m.NewState(), s.m.NewState()}
	for _, st := range states {
		b, err := next()
		if err != nil {
			return err
		}
		if err := st.UnmarshalBinary(b); err != nil {
			return err
		}
	}
	if len(p) != 0 {
		return errors.New("session file has trailing data")
	}
	s.state.CopyFrom(states[0])
	s.start.CopyFrom(states[1])
	s.before.CopyFrom(states[2])
	s.system, s.noPrime, s.Transcript, s.Fed = h.System, h.NoPrime, h.Transcript, h.Fed
	s.SetSettings(h.Settings)
	return nil
}

// TemplateName returns the template name recorded in a session file, so the
// caller can build the session with it before loading.
func TemplateName(data []byte) string {
	if len(data) < len(sessionMagic)+4 || string(data[:len(sessionMagic)]) != sessionMagic {
		return ""
	}
	n := binary.LittleEndian.Uint32(data[len(sessionMagic):])
	if uint64(n) > uint64(len(data)-len(sessionMagic)-4) {
		return ""
	}
	var h sessionHeader
	if json.Unmarshal(data[len(sessionMagic)+4:len(sessionMagic)+4+int(n)], &h) != nil {
		return ""
	}
	return h.Template
}
