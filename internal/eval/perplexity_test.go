package eval

import (
	"bytes"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rwkv-chat/rwkv-chat/internal/model"
	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
	"github.com/rwkv-chat/rwkv-chat/internal/tokenizer"
)

// trickyText mixes prose with what stresses chunk boundaries: long runs of
// spaces and of one letter, multi-byte characters, newlines, digits.
func trickyText(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 3))
	words := []string{"the", "cat", "sat", "on", "a", "mat", "Hello", "world", "  ", "     ", "\n", "\n\n", "日本語",
		"😀", "naïve", "café", "1234", "3.14", "don't", "it's", "x", strings.Repeat("a", 300), strings.Repeat(" ", 40),
		"<|endoftext|>", "\t", "—", "e\u0301", ",", "."}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		if r.IntN(3) > 0 {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

// readAll tokenizes text through a TokenReader that reads size bytes at a
// time from a reader that returns at most 1000 bytes per Read.
func readAll(t *testing.T, tok tokenizer.Tokenizer, text []byte, size int) []int {
	t.Helper()
	tr := NewTokenReader(&shortReader{r: bytes.NewReader(text), n: 1000}, tok, size)
	var ids []int
	for {
		part, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, part...)
	}
	if tr.BytesRead != int64(len(text)) {
		t.Fatalf("read %d bytes of %d", tr.BytesRead, len(text))
	}
	return ids
}

type shortReader struct {
	r io.Reader
	n int
}

func (s *shortReader) Read(p []byte) (int, error) { return s.r.Read(p[:min(len(p), s.n)]) }

func equalIDs(a, b []int) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

func TestTokenReaderMatchesWholeText(t *testing.T) {
	text := trickyText(300_000, 1)
	toks := []tokenizer.Tokenizer{tokenizer.Bytes()}
	root := testutil.Root(t)
	if w, err := tokenizer.LoadWorld(root + "/tokenizers/rwkv_vocab_v20230424.txt"); err == nil {
		toks = append(toks, w)
	} else {
		t.Logf("World vocabulary not found: %v", err)
	}
	if n, err := tokenizer.LoadNeoX(root + "/tokenizers/20B_tokenizer.json"); err == nil {
		toks = append(toks, n)
	} else {
		t.Logf("NeoX vocabulary not found: %v", err)
	}
	if lam, err := os.ReadFile(root + "/data/lambada_test.jsonl"); err == nil {
		text = append(text, lam[:min(len(lam), 300_000)]...)
	}
	for _, tok := range toks {
		want := tok.Encode(text)
		for _, size := range []int{1, 7, 129, 4096, 65536} {
			if tok.Name() != "bytes" && size < 100 {
				size *= 50 // keep the quadratic cost of tiny reads down
			}
			got := readAll(t, tok, text, size)
			if i := equalIDs(got, want); i >= 0 {
				t.Errorf("%s, reads of %d: ids differ from the whole-text encoding at %d (%d vs %d ids)", tok.Name(), size, i, len(got), len(want))
			}
		}
	}
}

// handPerplexity is the definition, independently of Perplexity: token i
// (i ≥ 1) is predicted from a fresh state fed tokens[start(i):i], where
// start(i) = 0 without windows or for i < N, else k·S with
// k = ⌊(i−N)/S⌋ + 1 — the window that first contains it.
func handPerplexity(t *testing.T, m *model.Model, ids []int, n int) (sum float64, scored int) {
	V := m.Cfg.Vocab
	start := func(i int) int {
		if n == 0 || i < n {
			return 0
		}
		s := n / 2
		return ((i-n)/s + 1) * s
	}
	// Group by window: one ForwardAll per window start.
	byStart := map[int][]int{}
	for i := 1; i < len(ids); i++ {
		byStart[start(i)] = append(byStart[start(i)], i)
	}
	for st, is := range byStart {
		last := is[len(is)-1]
		seq := ids[st:last]
		logits := make([]float32, len(seq)*V)
		if err := m.ForwardAll(m.NewState(), seq, logits); err != nil {
			t.Fatal(err)
		}
		for _, i := range is {
			sum -= LogProb(logits[(i-1-st)*V:(i-st)*V], ids[i])
			scored++
		}
	}
	return sum, scored
}

func TestPerplexityStridedMatchesDefinition(t *testing.T) {
	m, err := model.Open(testutil.Path(t, "models", "tiny", "tiny-rwkv-7v0-834K-FP32.bin"), model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ids := tokenizer.Bytes().Encode(trickyText(700, 2))
	r := rand.New(rand.NewPCG(5, 5))
	for _, n := range []int{0, 2, 3, 64, 101, 256, 699, 700, 5000} {
		p, err := NewPerplexity(m, n)
		if err != nil {
			t.Fatal(err)
		}
		for rest := ids; len(rest) > 0; { // pieces of random sizes
			k := min(len(rest), 1+r.IntN(150))
			if err := p.Add(rest[:k]); err != nil {
				t.Fatal(err)
			}
			rest = rest[k:]
		}
		res, err := p.Result()
		if err != nil {
			t.Fatal(err)
		}
		sum, scored := handPerplexity(t, m, ids, n)
		if res.Scored != len(ids)-1 || scored != len(ids)-1 || res.Tokens != len(ids) {
			t.Fatalf("N=%d: scored %d (hand %d) of %d tokens", n, res.Scored, scored, res.Tokens)
		}
		if want := sum / float64(scored); math.Abs(res.NLL-want) > 1e-6*want {
			t.Errorf("N=%d: nll %.9f, by definition %.9f", n, res.NLL, want)
		}
		t.Logf("N=%d: nll %.6f ppl %.4f over %d windows", n, res.NLL, res.PPL, res.Windows)
	}
	if _, err := NewPerplexity(m, 1); err == nil {
		t.Error("context 1 accepted")
	}
	p, _ := NewPerplexity(m, 0)
	_ = p.Add([]int{5})
	if _, err := p.Result(); err == nil {
		t.Error("one token scored")
	}
}

func TestProgressPlainAndTTY(t *testing.T) {
	var b bytes.Buffer
	now := time.Unix(0, 0)
	p := NewProgress(&b, false, "job", "docs", 10)
	p.now = func() time.Time { return now }
	p.start, p.last = now, now
	for i := 1; i <= 10; i++ {
		now = now.Add(3 * time.Second)
		p.Update(int64(i), "x")
	}
	p.Finish()
	p.Finish()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[len(lines)-1], "job 10/10 docs (100%)") || strings.Contains(b.String(), "\r") {
		t.Errorf("plain output:\n%s", b.String())
	}
	b.Reset()
	p = NewProgress(&b, true, "job", "MB", 0)
	p.Scale = 1e6
	p.Update(2_500_000, "")
	p.Finish()
	if out := b.String(); !strings.Contains(out, "\r\033[Kjob 2.5 MB") || !strings.HasSuffix(out, "\n") {
		t.Errorf("terminal output %q", out)
	}
}
