package sampler

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func randLogits(r *rand.Rand, n int, scale float64) []float32 {
	l := make([]float32, n)
	for i := range l {
		l[i] = float32(r.NormFloat64() * scale)
	}
	return l
}

func argmax(l []float32) int {
	best := 0
	for i, x := range l {
		if x > l[best] {
			best = i
		}
	}
	return best
}

func TestGreedyIsArgmax(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 256, 1000, 65536} {
		s := New(n, Params{Temperature: 0, TopP: 0.3, TopK: 5, Seed: 7})
		for range 20 {
			l := randLogits(r, n, 3)
			if got, want := s.Sample(l), argmax(l); got != want {
				t.Fatalf("vocab %d: greedy %d, argmax %d", n, got, want)
			}
		}
	}
	// Ties: the lowest id wins.
	s := New(5, Params{})
	if got := s.Sample([]float32{1, 3, 2, 3, 3}); got != 1 {
		t.Errorf("greedy on ties = %d, want 1", got)
	}
	// Negative temperature is greedy too; greedy sees the penalised logits.
	s = New(3, Params{Temperature: -1, Presence: 2})
	s.Accept(2, []byte("x"))
	if got := s.Sample([]float32{0, 1, 2}); got != 1 {
		t.Errorf("greedy after penalty = %d, want 1", got)
	}
}

// sequence generates n tokens from a fixed chain of pseudo-logits, feeding
// every token back through Accept.
func sequence(seed uint64, p Params, vocab, n int) []int {
	p.Seed = seed
	s := New(vocab, p)
	lr := rand.New(rand.NewPCG(99, 100)) // same logits for every seed
	out := make([]int, n)
	for i := range out {
		l := randLogits(lr, vocab, 2)
		out[i] = s.Sample(l)
		s.Accept(out[i], []byte{byte('a' + out[i]%26)})
	}
	return out
}

func TestSeedReproduces(t *testing.T) {
	for _, p := range []Params{
		{Temperature: 1, TopP: 0.3, Presence: 0.5, Frequency: 0.5, Decay: 0.996},
		{Temperature: 1, TopP: 1},
		{Temperature: 0.7, TopP: 0.9, TopK: 20},
		{Temperature: 1.5, TopP: 1, TopK: 50},
	} {
		a := sequence(42, p, 1000, 200)
		b := sequence(42, p, 1000, 200)
		c := sequence(43, p, 1000, 200)
		if !slices.Equal(a, b) {
			t.Errorf("%+v: seed 42 gave two different sequences", p)
		}
		if slices.Equal(a, c) {
			t.Errorf("%+v: seeds 42 and 43 gave the same sequence", p)
		}
	}
}

func TestSetParamsKeepsStream(t *testing.T) {
	p := Params{Temperature: 1, TopP: 1, Seed: 5}
	l := randLogits(rand.New(rand.NewPCG(3, 3)), 300, 1)
	a, b := New(300, p), New(300, p)
	for i := range 50 {
		if i == 25 {
			b.SetParams(p) // same seed: no restart
		}
		if x, y := a.Sample(l), b.Sample(l); x != y {
			t.Fatalf("step %d: %d vs %d", i, x, y)
		}
	}
	b.SetParams(Params{Temperature: 1, TopP: 1, Seed: 6})
	c := New(300, Params{Temperature: 1, TopP: 1, Seed: 6})
	for i := range 50 {
		if x, y := b.Sample(l), c.Sample(l); x != y {
			t.Fatalf("after reseed, step %d: %d vs %d", i, x, y)
		}
	}
}

func TestSampleDoesNotModifyLogits(t *testing.T) {
	l := []float32{1, 2, 3, float32(math.NaN()), 5}
	orig := slices.Clone(l)
	s := New(5, Params{Temperature: 1, TopP: 0.5, Presence: 1, Frequency: 1, Ban: []int{4}})
	s.Accept(2, []byte("x"))
	s.Sample(l)
	s.Probs(l, nil)
	s.Penalized(l, nil)
	for i := range l {
		if math.Float32bits(l[i]) != math.Float32bits(orig[i]) {
			t.Fatalf("logits changed: %v -> %v", orig, l)
		}
	}
}

// logitsFor returns logits whose softmax is p.
func logitsFor(p ...float64) []float32 {
	l := make([]float32, len(p))
	for i, x := range p {
		l[i] = float32(math.Log(x))
	}
	return l
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6 }

func checkProbs(t *testing.T, name string, s *Sampler, l []float32, want []float64) {
	t.Helper()
	got := s.Probs(l, nil)
	for i := range want {
		if !near(got[i], want[i]) || (want[i] == 0) != (got[i] == 0) {
			t.Errorf("%s: probs %v, want %v", name, got, want)
			return
		}
	}
	// Draws only ever pick tokens with non-zero probability, with the
	// right frequencies.
	counts := make([]int, len(l))
	const n = 40000
	for range n {
		counts[s.Sample(l)]++
	}
	for i := range want {
		if want[i] == 0 && counts[i] != 0 {
			t.Errorf("%s: token %d drawn %d times, probability 0", name, i, counts[i])
		}
		if f := float64(counts[i]) / n; math.Abs(f-want[i]) > 0.015 {
			t.Errorf("%s: token %d frequency %.4f, probability %.4f", name, i, f, want[i])
		}
	}
}

func TestTopP(t *testing.T) {
	l := logitsFor(0.5, 0.25, 0.125, 0.125)
	for _, tc := range []struct {
		topP float64
		want []float64
	}{
		{0.6, []float64{2.0 / 3, 1.0 / 3, 0, 0}},
		{0.8, []float64{0.5, 0.25, 0.125, 0.125}}, // cutoff 0.125: both tied tokens stay
		{0.3, []float64{1, 0, 0, 0}},
		{0, []float64{1, 0, 0, 0}}, // top_p 0: only the max
		{1, []float64{0.5, 0.25, 0.125, 0.125}},
		{1.5, []float64{0.5, 0.25, 0.125, 0.125}},
	} {
		s := New(4, Params{Temperature: 1, TopP: tc.topP, Seed: 1})
		checkProbs(t, "top_p", s, l, tc.want)
	}
	// top_p 0 keeps every token tied at the max.
	s := New(4, Params{Temperature: 1, TopP: 0, Seed: 1})
	checkProbs(t, "top_p=0 ties", s, []float32{2, 5, 1, 5}, []float64{0, 0.5, 0, 0.5})
	// Ties at the cutoff are kept: cumulative reaches 0.5 on the first 0.2.
	l = logitsFor(0.4, 0.2, 0.2, 0.2)
	s = New(4, Params{Temperature: 1, TopP: 0.5, Seed: 1})
	checkProbs(t, "cutoff ties", s, l, []float64{0.4, 0.2, 0.2, 0.2})
}

func TestTopK(t *testing.T) {
	l := logitsFor(0.1, 0.4, 0.3, 0.2)
	s := New(4, Params{Temperature: 1, TopP: 1, TopK: 2, Seed: 1})
	checkProbs(t, "top_k=2", s, l, []float64{0, 4.0 / 7, 3.0 / 7, 0})
	s = New(4, Params{Temperature: 1, TopP: 1, TopK: 1, Seed: 1})
	checkProbs(t, "top_k=1", s, l, []float64{0, 1, 0, 0})
	s = New(4, Params{Temperature: 1, TopP: 1, TopK: 4, Seed: 1}) // k ≥ vocab: off
	checkProbs(t, "top_k=4", s, l, []float64{0.1, 0.4, 0.3, 0.2})
	// Ties at the k boundary: lower ids first.
	s = New(4, Params{Temperature: 1, TopP: 1, TopK: 2, Seed: 1})
	checkProbs(t, "top_k ties", s, []float32{3, 1, 3, 3}, []float64{0.5, 0, 0.5, 0})
	// top-p first, then top-k: top_p 0.95 keeps 4, top_k 3 keeps 3.
	s = New(5, Params{Temperature: 1, TopP: 0.95, TopK: 3, Seed: 1})
	checkProbs(t, "top_p+top_k", s, logitsFor(0.4, 0.3, 0.2, 0.08, 0.02), []float64{4.0 / 9, 3.0 / 9, 2.0 / 9, 0, 0})
	// top-k larger than what top-p keeps changes nothing.
	s = New(5, Params{Temperature: 1, TopP: 0.6, TopK: 3, Seed: 1})
	checkProbs(t, "top_p<top_k", s, logitsFor(0.4, 0.3, 0.2, 0.08, 0.02), []float64{4.0 / 7, 3.0 / 7, 0, 0, 0})
}

func TestTemperature(t *testing.T) {
	l := logitsFor(0.5, 0.25, 0.125, 0.125)
	// T = 0.5 on the set kept at T = 1 (top_p 0.6 keeps {0, 1}): p².
	s := New(4, Params{Temperature: 0.5, TopP: 0.6, Seed: 1})
	checkProbs(t, "T=0.5", s, l, []float64{0.8, 0.2, 0, 0})
	// T = 2 without filtering: √p normalised.
	s = New(4, Params{Temperature: 2, TopP: 1, Seed: 1})
	r := []float64{math.Sqrt(0.5), 0.5, math.Sqrt(0.125), math.Sqrt(0.125)}
	sum := r[0] + r[1] + r[2] + r[3]
	checkProbs(t, "T=2", s, l, []float64{r[0] / sum, r[1] / sum, r[2] / sum, r[3] / sum})
	// The surviving set is decided at T = 1: a high temperature does not
	// let filtered tokens back in.
	s = New(4, Params{Temperature: 100, TopP: 0.6, Seed: 1})
	got := s.Probs(l, nil)
	if got[2] != 0 || got[3] != 0 {
		t.Errorf("T=100 top_p=0.6: %v", got)
	}
}

// refProbs is a direct transcription of §11.1 with a full sort, in float64.
func refProbs(l []float32, p Params) []float64 {
	n := len(l)
	m := math.Inf(-1)
	for _, x := range l {
		m = max(m, float64(x))
	}
	e := make([]float64, n)
	z := 0.0
	for i, x := range l {
		e[i] = math.Exp(float64(x) - m)
		z += e[i]
	}
	prob := make([]float64, n)
	for i := range e {
		prob[i] = e[i] / z
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmp.Compare(prob[b], prob[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	keep := make([]bool, n)
	kept := n
	if p.TopP < 1 {
		cum := 0.0
		for j, i := range idx {
			cum += prob[i]
			if cum >= p.TopP {
				kept = j + 1
				for kept < n && prob[idx[kept]] == prob[i] {
					kept++
				}
				break
			}
		}
	}
	if p.TopK > 0 && p.TopK < kept {
		kept = p.TopK
	}
	for _, i := range idx[:kept] {
		keep[i] = true
	}
	out := make([]float64, n)
	sum := 0.0
	for i := range out {
		if keep[i] {
			out[i] = math.Pow(prob[i], 1/p.Temperature)
			sum += out[i]
		}
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// TestProbsMatchReference compares the bucketed partial selection with a
// full sort on random logits and settings.
func TestProbsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for it := range 300 {
		n := []int{2, 7, 256, 3000, 65536}[it%5]
		scale := []float64{0.01, 0.5, 2, 6, 30}[r.IntN(5)]
		l := randLogits(r, n, scale)
		if it%7 == 0 { // many exact ties
			for i := range l {
				l[i] = float32(math.Round(float64(l[i])))
			}
		}
		p := Params{
			Temperature: []float64{1, 0.3, 0.7, 1.3, 3}[r.IntN(5)],
			TopP:        []float64{0, 0.1, 0.3, 0.5, 0.85, 0.99, 0.999999, 1}[r.IntN(8)],
			TopK:        []int{0, 0, 1, 5, 100, 2000}[r.IntN(6)],
		}
		s := New(n, p)
		got := s.Probs(l, nil)
		want := refProbs(l, p)
		for i := range want {
			if (got[i] == 0) != (want[i] == 0) || math.Abs(got[i]-want[i]) > 1e-9*max(1, want[i]) {
				t.Fatalf("it %d (n=%d scale=%g %+v): id %d prob %g, reference %g", it, n, scale, p, i, got[i], want[i])
			}
		}
	}
}

func TestBansAndMasks(t *testing.T) {
	inf := float32(math.Inf(1))
	l := []float32{5, 1, 4, 2}
	s := New(4, Params{Temperature: 1, TopP: 1, Ban: []int{0, 2, -1, 99}, Seed: 3})
	got := s.Probs(l, nil)
	if got[0] != 0 || got[2] != 0 {
		t.Errorf("banned tokens have probability: %v", got)
	}
	for _, x := range got {
		if math.IsNaN(x) {
			t.Fatalf("NaN probability: %v", got)
		}
	}
	checkProbs(t, "ban", s, l, []float64{0, 1 / (1 + math.E), 0, math.E / (1 + math.E)})
	pen := s.Penalized(l, nil)
	if !math.IsInf(float64(pen[0]), -1) || !math.IsInf(float64(pen[2]), -1) {
		t.Errorf("penalised logits %v", pen)
	}
	if g := New(4, Params{Ban: []int{0}}).Sample(l); g != 2 {
		t.Errorf("greedy with ban = %d, want 2", g)
	}

	// Mask: only ids 1 and 3 allowed; ids beyond len(Allow) are masked.
	s = New(4, Params{Temperature: 1, TopP: 0.5, Allow: []bool{false, true, true}})
	checkProbs(t, "mask", s, l, []float64{0, 0, 1, 0})

	// Everything banned: token 0, zero probabilities, no NaN.
	for _, p := range []Params{{Temperature: 1, TopP: 0.3}, {Temperature: 1, TopP: 1}, {}} {
		p.Ban = []int{0, 1, 2, 3}
		s = New(4, p)
		if got := s.Sample(l); got != 0 {
			t.Errorf("all banned: Sample = %d", got)
		}
		for _, x := range s.Probs(l, nil) {
			if x != 0 {
				t.Errorf("all banned: probs %v", s.Probs(l, nil))
			}
		}
	}

	// −Inf and NaN logits from the model behave as bans; +Inf logits share
	// all the mass.
	s = New(4, Params{Temperature: 1, TopP: 0.9, Seed: 1})
	checkProbs(t, "nan", s, []float32{float32(math.NaN()), float32(math.Inf(-1)), 0, 0}, []float64{0, 0, 0.5, 0.5})
	checkProbs(t, "+inf", s, []float32{inf, 3, inf, 1}, []float64{0.5, 0, 0.5, 0})
	s = New(4, Params{Temperature: 0.5, TopP: 1, Seed: 1})
	checkProbs(t, "+inf T", s, []float32{inf, 3, inf, 1}, []float64{0.5, 0, 0.5, 0})
}

// TestPenaltiesStepByStep follows §11.2 on a hand-made logit vector: the
// penalised logits are asserted after every accepted token.
func TestPenaltiesStepByStep(t *testing.T) {
	// Dyadic settings, so every value below is exact.
	logits := []float32{1, 2, 3, 4, 5}
	text := [][]byte{[]byte("a"), []byte(" "), []byte("7"), []byte("hello"), []byte("12")}
	s := New(5, Params{Temperature: 1, TopP: 1, Presence: 1, Frequency: 0.5, Decay: 0.5})
	steps := []struct {
		accept int
		occ    []float64 // after Accept; NaN = not counted
		want   []float32 // penalised logits after Accept
	}{
		// occ{3:1}: l3 = 4 − (1 + 1·0.5)
		{3, []float64{nan, nan, nan, 1, nan}, []float32{1, 2, 3, 2.5, 5}},
		// decay 3 → 0.5, then +1 → 1.5: l3 = 4 − (1 + 0.75)
		{3, []float64{nan, nan, nan, 1.5, nan}, []float32{1, 2, 3, 2.25, 5}},
		// " " is exempt: occ1 = 0 (presence only); 3 decays to 0.75
		{1, []float64{nan, 0, nan, 0.75, nan}, []float32{1, 1, 3, 2.625, 5}},
		// "12" is a substring of " \t0123456789": exempt
		{4, []float64{nan, 0, nan, 0.375, 0}, []float32{1, 1, 3, 2.8125, 4}},
		// "7" again exempt; "a" counts 1
		{2, []float64{nan, 0, 0, 0.1875, 0}, []float32{1, 1, 2, 2.90625, 4}},
		{0, []float64{1, 0, 0, 0.09375, 0}, []float32{-0.5, 1, 2, 2.953125, 4}},
		// a repeated exempt token stays at 0 after decay
		{1, []float64{0.5, 0, 0, 0.046875, 0}, []float32{-0.25, 1, 2, 2.9765625, 4}},
	}
	if got := s.Penalized(logits, nil); !slices.Equal(got, logits) {
		t.Fatalf("no tokens yet: %v", got)
	}
	for i, st := range steps {
		s.Accept(st.accept, text[st.accept])
		for id, w := range st.occ {
			o, counted := s.Occurrence(id)
			if math.IsNaN(w) {
				if counted {
					t.Errorf("step %d: id %d counted", i, id)
				}
			} else if !counted || o != w {
				t.Errorf("step %d: occ[%d] = %v (%v), want %v", i, id, o, counted, w)
			}
		}
		if got := s.Penalized(logits, nil); !slices.Equal(got, st.want) {
			t.Errorf("step %d: penalised %v, want %v", i, got, st.want)
		}
	}
	// Reset forgets everything.
	s.Reset()
	if got := s.Penalized(logits, nil); !slices.Equal(got, logits) {
		t.Errorf("after Reset: %v", got)
	}
	for id := range 5 {
		if _, c := s.Occurrence(id); c {
			t.Errorf("after Reset id %d counted", id)
		}
	}
}

var nan = math.NaN()

// TestPenaltiesChatDefaults: API_DEMO_CHAT settings (0.5, 0.5, decay 0.996);
// a penalty is computed in float64 and subtracted in float32.
func TestPenaltiesChatDefaults(t *testing.T) {
	s := New(3, Params{Presence: 0.5, Frequency: 0.5, Decay: 0.996})
	l := []float32{2, 2, 2}
	s.Accept(0, []byte("x"))
	s.Accept(0, []byte("x")) // occ0 = 1·0.996 + 1 = 1.996
	s.Accept(1, []byte("y")) // occ0 = 1.988016, occ1 = 1
	got := s.Penalized(l, nil)
	want0 := float32(2) - float32(0.5+1.996*0.996*0.5)
	want1 := float32(2) - float32(0.5+1*0.5)
	if got[0] != want0 || got[1] != want1 || got[2] != 2 {
		t.Errorf("penalised %v, want [%v %v 2]", got, want0, want1)
	}
	if math.Abs(float64(got[0])-(2-1.494008)) > 1e-6 {
		t.Errorf("l0 = %v, want ≈ 0.505992", got[0])
	}
	// Decay 0 means no decay.
	s = New(2, Params{Presence: 0, Frequency: 1})
	s.Accept(0, []byte("x"))
	s.Accept(1, []byte("x"))
	if o, _ := s.Occurrence(0); o != 1 {
		t.Errorf("decay 0: occ = %v, want 1", o)
	}
}

// TestPenaltiesMatchReference replays §11.2 with a Python-like map on a
// random token stream.
func TestPenaltiesMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const n = 50
	p := Params{Presence: 0.4, Frequency: 0.4, Decay: 0.996, Ban: []int{7}}
	s := New(n, p)
	occ := map[int]float64{}
	texts := []string{" ", "\t", "0", "42", "", "word", " x", "\n"}
	for step := range 300 {
		l := randLogits(r, n, 3)
		want := slices.Clone(l)
		want[7] = float32(math.Inf(-1))
		for tok, o := range occ {
			want[tok] -= float32(p.Presence + o*p.Frequency)
		}
		if got := s.Penalized(l, nil); !slices.Equal(got, want) {
			t.Fatalf("step %d: %v, want %v", step, got, want)
		}
		tok := r.IntN(n)
		txt := texts[r.IntN(len(texts))]
		for k := range occ {
			occ[k] *= p.Decay
		}
		www := 1.0
		if txt == "" || contains(" \t0123456789", txt) {
			www = 0
		}
		occ[tok] += www
		s.Accept(tok, []byte(txt))
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestVocabMismatchPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	New(4, Params{}).Sample(make([]float32, 5))
}

func TestNoAllocations(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	const n = 65536
	l := randLogits(r, n, 3)
	txt := []byte("tok")
	for _, p := range []Params{
		{Temperature: 0},
		{Temperature: 1, TopP: 0.3, Presence: 0.5, Frequency: 0.5, Decay: 0.996},
		{Temperature: 0.8, TopP: 0.85},
		{Temperature: 1, TopP: 1},
		{Temperature: 0.7, TopP: 1},
		{Temperature: 1, TopP: 0.5, TopK: 100},
		{Temperature: 1, TopP: 1, TopK: 40, Ban: []int{0}, Allow: make([]bool, n)},
	} {
		s := New(n, p)
		i := 0
		allocs := testing.AllocsPerRun(50, func() {
			id := s.Sample(l)
			s.Accept((id+i)%n, txt)
			i += 977
		})
		if allocs != 0 {
			t.Errorf("%+v: %v allocations per token", p, allocs)
		}
	}
}

func benchLogits(flat bool) []float32 {
	r := rand.New(rand.NewPCG(1, 1))
	l := randLogits(r, 65536, 2.5)
	if flat {
		for i := range l {
			l[i] = float32(r.Float64() * 0.01)
		}
		return l
	}
	for i := range 5 { // a few likely tokens, like a real model
		l[r.IntN(len(l))] += float32(12 - 2*i)
	}
	return l
}

func benchSample(b *testing.B, p Params, flat bool) {
	l := benchLogits(flat)
	s := New(len(l), p)
	txt := []byte("x")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s.Sample(l)
		s.Accept(i*7919%len(l), txt)
		if i%200 == 199 {
			s.Reset()
		}
	}
}

func BenchmarkSample65536(b *testing.B) {
	b.Run("greedy", func(b *testing.B) { benchSample(b, Params{}, false) })
	b.Run("chat_top_p0.3", func(b *testing.B) {
		benchSample(b, Params{Temperature: 1, TopP: 0.3, Presence: 0.5, Frequency: 0.5, Decay: 0.996}, false)
	})
	b.Run("top_p0.85_T0.8", func(b *testing.B) {
		benchSample(b, Params{Temperature: 0.8, TopP: 0.85, Presence: 0.2, Frequency: 0.2, Decay: 0.996}, false)
	})
	b.Run("top_k100_top_p0.5", func(b *testing.B) { benchSample(b, Params{Temperature: 1, TopP: 0.5, TopK: 100, Decay: 0.997}, false) })
	b.Run("nofilter", func(b *testing.B) { benchSample(b, Params{Temperature: 1, TopP: 1}, false) })
	b.Run("flat_top_p0.85", func(b *testing.B) { benchSample(b, Params{Temperature: 1, TopP: 0.85}, true) })
}

// TestSelect checks the quickselects against a full sort, with many ties.
func TestSelect(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for it := range 2000 {
		n := 1 + r.IntN(300)
		levels := 1 + r.IntN(n)
		e := make([]float64, n)
		for i := range e {
			e[i] = float64(1+r.IntN(levels)) / float64(levels)
		}
		order := make([]int32, n)
		for i := range order {
			order[i] = int32(i)
		}
		slices.SortFunc(order, func(a, b int32) int {
			if c := cmp.Compare(e[b], e[a]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		total := 0.0
		for _, x := range e {
			total += x
		}

		// top-p: reference cutoff by running sum over the sorted order.
		target := total * []float64{0, 0.01, 0.3, 0.5, 0.9, 0.999}[r.IntN(6)]
		want := n
		cum := 0.0
		for j, id := range order {
			cum += e[id]
			if cum >= target {
				want = j + 1
				for want < n && e[order[want]] == e[id] {
					want++
				}
				break
			}
		}
		cand := slices.Clone(order)
		r.Shuffle(n, func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
		k, found := selectTopP(cand, e, target)
		if !found || k != want {
			t.Fatalf("it %d: selectTopP kept %d (found %v), want %d", it, k, found, want)
		}
		got := slices.Clone(cand[:k])
		slices.Sort(got)
		ref := slices.Clone(order[:want])
		slices.Sort(ref)
		if !slices.Equal(got, ref) {
			t.Fatalf("it %d: selectTopP set differs", it)
		}
		if _, found := selectTopP(cand, e, total*2); found {
			t.Fatalf("it %d: target above the total mass found", it)
		}

		// top-k
		K := 1 + r.IntN(n)
		r.Shuffle(n, func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
		selectTopK(cand, e, K)
		got = slices.Clone(cand[:K])
		slices.Sort(got)
		ref = slices.Clone(order[:K])
		slices.Sort(ref)
		if !slices.Equal(got, ref) {
			t.Fatalf("it %d: selectTopK(%d) = %v, want %v", it, K, got, ref)
		}
	}
}
