package model

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/kernels"
	"github.com/rwkv-chat/rwkv-chat/internal/synth"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// TestAtt7Split: decoding gives bit for bit the same logits and state
// whichever heads each worker takes in the fused per-head stage (att7),
// and the same as sequence mode's separate stages to float rounding.
func TestAtt7Split(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v7.bin")
	if err := synth.Write(path, synth.Spec{Arch: 7, Layers: 2, Embd: 256, Vocab: 300, HeadSize: 32, Type: tensor.F16}); err != nil {
		t.Fatal(err)
	}
	m, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	H := m.Cfg.Heads
	if H != 8 {
		t.Fatalf("%d heads, want 8", H)
	}
	toks := []int{5, 17, 250, 3, 3, 99, 1, 0}
	decode := func() (logits, state []float32) {
		st := m.NewState()
		out := make([]float32, m.Cfg.Vocab)
		for _, tok := range toks {
			if err := m.Forward(st, []int{tok}, out); err != nil {
				t.Fatal(err)
			}
			logits = append(logits, out...)
		}
		return logits, st.Data
	}
	want, wantSt := decode()

	prev := parallelHeads
	defer func() { parallelHeads = prev }()
	for _, cuts := range [][]int{{1}, {4}, {3, 5}, {1, 2, 7}} {
		calls := 0
		parallelHeads = func(_, total, _ int, task kernels.Task) {
			lo := 0
			for w, hi := range append(append([]int{}, cuts...), total) {
				task.Run(w, lo, hi)
				lo = hi
			}
			calls++
		}
		got, gotSt := decode()
		if calls != len(toks)*m.Cfg.Layers {
			t.Fatalf("cuts %v: att7 ran %d times, want %d", cuts, calls, len(toks)*m.Cfg.Layers)
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("cuts %v: logit %d = %v, unsplit %v", cuts, i, got[i], want[i])
			}
		}
		for i := range gotSt {
			if math.Float32bits(gotSt[i]) != math.Float32bits(wantSt[i]) {
				t.Fatalf("cuts %v: state %d = %v, unsplit %v", cuts, i, gotSt[i], wantSt[i])
			}
		}
	}

	// Sequence mode (the separate stages) agrees to float rounding.
	st := m.NewState()
	seq := make([]float32, len(toks)*m.Cfg.Vocab)
	if err := m.ForwardAll(st, toks, seq); err != nil {
		t.Fatal(err)
	}
	for i := range seq {
		if d := math.Abs(float64(seq[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("logit %d: sequence %v, decode %v", i, seq[i], want[i])
		}
	}
}
