package model

import (
	"path/filepath"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/format"
	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
)

// progressLog records the calls of Options.Progress.
type progressLog struct{ done, total []int64 }

func (p *progressLog) hook(done, total int64) {
	p.done = append(p.done, done)
	p.total = append(p.total, total)
}

// check asserts the contract of Options.Progress: a first call with 0,
// then strictly growing values, the last equal to the total, which is the
// size of all the tensors and never changes.
func (p *progressLog) check(t *testing.T, f *format.File) {
	t.Helper()
	var want int64
	for _, ts := range f.Tensors {
		want += int64(len(ts.Data))
	}
	if len(p.done) < 3 {
		t.Fatalf("%d progress calls: %v", len(p.done), p.done)
	}
	if p.done[0] != 0 {
		t.Errorf("first call with done %d, want 0", p.done[0])
	}
	for i := range p.done {
		if p.total[i] != want {
			t.Fatalf("call %d: total %d, want %d (the tensors' bytes)", i, p.total[i], want)
		}
		if i > 0 && p.done[i] <= p.done[i-1] {
			t.Fatalf("call %d: done %d after %d", i, p.done[i], p.done[i-1])
		}
	}
	if last := p.done[len(p.done)-1]; last != want {
		t.Errorf("last call with done %d, want the total %d", last, want)
	}
}

// sameLogits checks that two models give the very same logits for a few
// tokens.
func sameLogits(t *testing.T, a, b *Model) {
	t.Helper()
	la, lb := make([]float32, a.Cfg.Vocab), make([]float32, b.Cfg.Vocab)
	toks := []int{1, 2, 3}
	if err := a.Forward(a.NewState(), toks, la); err != nil {
		t.Fatal(err)
	}
	if err := b.Forward(b.NewState(), toks, lb); err != nil {
		t.Fatal(err)
	}
	for i := range la {
		if la[i] != lb[i] {
			t.Fatalf("logit %d: %v with progress, %v without", i, la[i], lb[i])
		}
	}
}

// Loading a bf16 .pth file converts its vectors and LoRA matrices to
// float32 (and uses its matrices in place): the hook sees all of it, in
// order, up to the total.
func TestLoadProgressConversion(t *testing.T) {
	root := testutil.Root(t)
	for _, name := range fixtureModels {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(root, "fixtures", name, "tiny-rwkv-"+name+"-bf16.pth")
			var log progressLog
			m := open(t, path, Options{Progress: log.hook})
			log.check(t, m.File())
			// One call per tensor: each is converted (or taken in place)
			// and counted once.
			if n, want := len(log.done), len(m.File().Tensors)+1; n != want {
				t.Errorf("%d progress calls, want %d (one per tensor and the first)", n, want)
			}
			sameLogits(t, m, open(t, path, Options{}))
		})
	}
}

// With page-in (what Open does for a file not in the page cache) the
// weights used in place are read through in chunks, and the hook keeps its
// contract; the model is the same.
func TestLoadProgressPageIn(t *testing.T) {
	root := testutil.Root(t)
	for _, path := range []string{
		filepath.Join(root, "models", "tiny", "tiny-rwkv-6v0-1m-Q5_1.bin"),
		filepath.Join(root, "models", "tiny", "tiny-rwkv-7v0-834K-FP16.bin"),
		filepath.Join(root, "fixtures", "7v0-834K", "tiny-rwkv-7v0-834K-bf16.safetensors"),
	} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := format.Open(path)
			if err != nil {
				t.Skip(err)
			}
			defer f.Close()
			var log progressLog
			m, err := fromTensors(f.Tensors, f.Transformed, Options{Progress: log.hook}, true)
			if err != nil {
				t.Fatal(err)
			}
			log.check(t, f)
			if n := len(log.done); n < len(f.Tensors)+1 {
				t.Errorf("%d progress calls for %d tensors", n, len(f.Tensors))
			}
			sameLogits(t, m, open(t, path, Options{}))
		})
	}
}
