package tokenizer

import (
	"bytes"
	"testing"
)

func TestWorldFixtures(t *testing.T) {
	w := loadWorld(t)
	fails := 0
	for _, fx := range readFixtures(t, "world.jsonl") {
		got := w.Encode(fx.input)
		if !equalIDs(got, fx.IDs) {
			fails++
			if fails <= 10 {
				t.Errorf("%s: Encode(%q)\n got %v\nwant %v", fx.Name, fx.input, got, fx.IDs)
			}
		}
		if dec := w.Decode(fx.IDs); !bytes.Equal(dec, fx.input) {
			t.Errorf("%s: Decode(ids) = %q, want %q", fx.Name, dec, fx.input)
		}
	}
	if fails > 0 {
		t.Errorf("%d World fixtures differ", fails)
	}
}

func TestNeoXFixtures(t *testing.T) {
	x := loadNeoX(t)
	fails := 0
	for _, fx := range readFixtures(t, "neox.jsonl") {
		got := x.Encode(fx.input)
		if !equalIDs(got, fx.IDs) {
			fails++
			if fails <= 10 {
				t.Errorf("%s: Encode(%q)\n got %v\nwant %v", fx.Name, fx.input, got, fx.IDs)
			}
		}
	}
	if fails > 0 {
		t.Errorf("%d NeoX fixtures differ", fails)
	}
}
