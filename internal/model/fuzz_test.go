package model

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
)

// FuzzStateUnmarshal feeds damaged states to State.UnmarshalBinary, as is
// and with a valid checksum. A refused state must leave the state as it
// was; an accepted one must marshal back to the same bytes.
func FuzzStateUnmarshal(f *testing.F) {
	m := open(f, testutil.Path(f, "models", "tiny", "tiny-rwkv-7v0-834K-FP32.bin"), Options{})
	st := m.NewState()
	for i := range st.Data {
		st.Data[i] = float32(i%97) * 0.25
	}
	good, err := st.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:40])
	f.Add([]byte(stateMagic))
	s := m.NewState()
	f.Fuzz(func(t *testing.T, data []byte) {
		fixed := binary.LittleEndian.AppendUint32(bytes.Clone(data), crc32.ChecksumIEEE(data))
		for _, in := range [][]byte{data, fixed} {
			before, _ := s.MarshalBinary()
			if err := s.UnmarshalBinary(in); err != nil {
				if after, _ := s.MarshalBinary(); !bytes.Equal(before, after) {
					t.Fatalf("refused state (%v) changed the state", err)
				}
				continue
			}
			out, _ := s.MarshalBinary()
			if !bytes.Equal(out, in) {
				t.Fatal("accepted state does not marshal back to its bytes")
			}
		}
	})
}
