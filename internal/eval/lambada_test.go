package eval

import (
	"math"
	"strings"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/model"
	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
	"github.com/rwkv-chat/rwkv-chat/internal/tokenizer"
)

func TestSplitLambada(t *testing.T) {
	for _, c := range []struct{ text, ctx, tgt string }{
		{"a b c", "a b", " c"},
		{"one two", "one", " two"},
		{"ends with space ", "ends with space", " "},
		{"tab\tword last", "tab\tword", " last"},
		{" lead", "", " lead"},
	} {
		d, ok := SplitLambada(c.text)
		if !ok || d.Context != c.ctx || d.Target != c.tgt {
			t.Errorf("%q: got %q %q %v, want %q %q", c.text, d.Context, d.Target, ok, c.ctx, c.tgt)
		}
	}
	if _, ok := SplitLambada("nospace"); ok {
		t.Error("a text without a space was split")
	}
}

func TestReadLambada(t *testing.T) {
	in := "{\"text\": \"the cat sat\"}\n\n{\"text\": \"x \\\"y\\\" z\"}\n{\"text\": \"a b\"}"
	docs, err := ReadLambada(strings.NewReader(in), 0)
	if err != nil || len(docs) != 3 || docs[1].Context != `x "y"` || docs[1].Target != " z" || docs[2].Target != " b" {
		t.Fatalf("%+v %v", docs, err)
	}
	docs, err = ReadLambada(strings.NewReader(in), 2)
	if err != nil || len(docs) != 2 {
		t.Fatalf("limit 2: %d docs, %v", len(docs), err)
	}
	for _, bad := range []string{"{\"text\": \"nospace\"}\n", "not json\n", "{\"txt\": \"a b\"}\n"} {
		if _, err := ReadLambada(strings.NewReader("{\"text\": \"a b\"}\n"+bad), 0); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%q: error %v, want one naming line 2", bad, err)
		}
	}
}

// handLambada computes the protocol independently of Lambada: one
// ForwardAll over token 0 + context + target from a fresh state, then the
// log-softmax (log-sum-exp in float64) and argmax of the logits that
// precede each target token.
func handLambada(t *testing.T, m *model.Model, docs []Doc) (correct, hits int, sum float64) {
	V := m.Cfg.Vocab
	for _, d := range docs {
		src := append([]int{0}, tokenizer.Bytes().Encode([]byte(d.Context))...)
		dst := tokenizer.Bytes().Encode([]byte(d.Target))
		seq := append(append([]int(nil), src...), dst...)
		logits := make([]float32, len(seq)*V)
		if err := m.ForwardAll(m.NewState(), seq, logits); err != nil {
			t.Fatal(err)
		}
		ok := true
		for j, want := range dst {
			row := logits[(len(src)-1+j)*V : (len(src)+j)*V]
			mx, arg := math.Inf(-1), -1
			for i, v := range row {
				if float64(v) > mx {
					mx, arg = float64(v), i
				}
			}
			var z float64
			for _, v := range row {
				z += math.Exp(float64(v) - mx)
			}
			sum += float64(row[want]) - mx - math.Log(z)
			ok = ok && arg == want
			if arg == want {
				hits++
			}
		}
		if ok {
			correct++
		}
	}
	return correct, hits, sum
}

func TestLambadaTinyModels(t *testing.T) {
	data := testutil.Path(t, "data", "lambada_test.jsonl")
	limit := 500
	if testing.Short() {
		limit = 60
	}
	if raceEnabled {
		limit = 8
	}
	docs, err := ReadLambadaFile(data, limit)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != limit {
		t.Fatalf("read %d documents, want %d", len(docs), limit)
	}
	for _, name := range []string{"tiny-rwkv-5v2-730K-FP32.bin", "tiny-rwkv-7v0-834K-FP32.bin"} {
		t.Run(name, func(t *testing.T) {
			m, err := model.Open(testutil.Path(t, "models", "tiny", name), model.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			calls := 0
			r1, err := Lambada(m, tokenizer.Bytes(), docs, func(done int) {
				calls++
				if done != calls {
					t.Errorf("progress %d after %d documents", done, calls)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if calls != len(docs) || r1.N != len(docs) {
				t.Fatalf("n %d, progress calls %d, want %d", r1.N, calls, len(docs))
			}
			correct, hits, sum := handLambada(t, m, docs)
			wantPPL := math.Exp(-sum / float64(len(docs)))
			wantAcc := float64(correct) / float64(len(docs))
			t.Logf("n %d: accuracy %.4f (%d correct), ppl %.6g, %d of %d target tokens argmax, %.0f tokens/s",
				r1.N, r1.Accuracy, r1.Correct, r1.PPL, r1.ArgmaxTokens, r1.TargetTokens, r1.TokensPerS)
			if r1.ArgmaxTokens != hits {
				t.Errorf("%d target tokens were the argmax, hand-computed %d", r1.ArgmaxTokens, hits)
			}
			if r1.Correct != correct || r1.Accuracy != wantAcc {
				t.Errorf("accuracy %v (%d correct), hand-computed %v (%d)", r1.Accuracy, r1.Correct, wantAcc, correct)
			}
			if math.Abs(r1.LogProbSum-sum) > 1e-6*math.Abs(sum) || math.Abs(r1.PPL-wantPPL) > 1e-6*wantPPL {
				t.Errorf("ppl %.10g (Σ logprob %.10g), hand-computed %.10g (%.10g)", r1.PPL, r1.LogProbSum, wantPPL, sum)
			}
			if math.IsNaN(r1.PPL) || math.IsInf(r1.PPL, 0) || r1.PPL <= 1 {
				t.Errorf("ppl %v is not a perplexity", r1.PPL)
			}
			// Deterministic: a second run gives the very same figures.
			r2, err := Lambada(m, tokenizer.Bytes(), docs, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r2.N != r1.N || r2.Correct != r1.Correct || r2.LogProbSum != r1.LogProbSum || r2.PPL != r1.PPL ||
				r2.Tokens != r1.Tokens || r2.TargetTokens != r1.TargetTokens || r2.ArgmaxTokens != r1.ArgmaxTokens {
				t.Errorf("second run %+v differs from the first %+v", r2, r1)
			}
		})
	}
}

// TestArgmaxLogProb checks the tie rule of argmax (the first maximum, as
// torch.argmax) and that LogProb is a log-softmax.
func TestArgmaxLogProb(t *testing.T) {
	l := []float32{1, 3, 3, -2}
	if Argmax(l) != 1 {
		t.Errorf("argmax %d, want the first maximum 1", Argmax(l))
	}
	var z float64
	for i := range l {
		z += math.Exp(LogProb(l, i))
	}
	if math.Abs(z-1) > 1e-12 {
		t.Errorf("probabilities sum to %v", z)
	}
}
