package chat

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"path/filepath"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/model"
	"github.com/rwkv-chat/rwkv-chat/internal/prompt"
	"github.com/rwkv-chat/rwkv-chat/internal/synth"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
	"github.com/rwkv-chat/rwkv-chat/internal/tokenizer"
)

// newSynthSession is a session on a very small synthetic RWKV-7 model, so
// that a session file is a few KB: the fuzzer slows to a crawl on the
// 600 KB files of the tiny fixture models.
func newSynthSession(tb testing.TB) *Session {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "m.bin")
	if err := synth.Write(path, synth.Spec{Arch: 7, Layers: 1, Embd: 32, Vocab: 256, HeadSize: 16, Type: tensor.F32}); err != nil {
		tb.Fatal(err)
	}
	m, err := model.Open(path, model.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	tok, err := tokenizer.Select(m.Cfg.Vocab, "bytes", path)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl, err := prompt.Lookup("world")
	if err != nil {
		tb.Fatal(err)
	}
	set := FromTemplate(tmpl)
	set.Temperature, set.MaxTokens = 0, 8
	s, err := New(Config{Model: m, Tokenizer: tok, Template: tmpl, Settings: set})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// FuzzSessionFile feeds damaged session files to Session.UnmarshalBinary.
// Each input is tried as is and with its checksum made valid, so the fuzzer
// reaches the header and state parsers behind the CRC. A refused file must
// leave the session exactly as it was.
func FuzzSessionFile(f *testing.F) {
	s := newSynthSession(f)
	if _, err := s.Reply(context.Background(), prompt.Message{Text: "Hi"}, nil); err != nil {
		f.Fatal(err)
	}
	good, err := s.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(sessionMagic))
	o := newSynthSession(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		before, err := o.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		fixed := binary.LittleEndian.AppendUint32(bytes.Clone(data), crc32.ChecksumIEEE(data))
		for _, in := range [][]byte{data, fixed} {
			if err := o.UnmarshalBinary(in); err != nil {
				after, err2 := o.MarshalBinary()
				if err2 != nil {
					t.Fatal(err2)
				}
				if !bytes.Equal(before, after) {
					t.Fatalf("refused load (%v) changed the session", err)
				}
				continue
			}
			// Accepted: it must save again and load back to the same bytes.
			again, err := o.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if err := o.UnmarshalBinary(again); err != nil {
				t.Fatalf("a loaded session does not load back: %v", err)
			}
			before = again
		}
		_ = TemplateName(data)
	})
}
