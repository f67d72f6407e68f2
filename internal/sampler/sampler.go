// Package sampler picks the next token from a model's logits the way the
// RWKV reference does (spec §11.1–§11.2, ChatRWKV PIPELINE.sample_logits and
// PIPELINE.generate): token bans and masks, presence/frequency penalties over
// the generated tokens with decay, then softmax → top-p → top-k →
// temperature → draw, with a seeded PCG generator so a fixed seed reproduces
// a run.
//
// A Sampler owns all its buffers (sized to the vocabulary at New); Sample,
// Accept and Reset allocate nothing.
package sampler

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Params are the generation settings.
type Params struct {
	// Temperature ≤ 0 (or NaN) means greedy: the argmax of the penalised
	// logits, the lowest id on ties. Otherwise it is applied after the
	// filters, to the surviving tokens only, as p^(1/T) (§11.1 step 5;
	// computed as exp((l−max)/T), which is proportional).
	Temperature float64
	// TopP keeps the smallest set of most likely tokens whose probability
	// reaches TopP, plus every token tied with the last one; 0 keeps only
	// the most likely token(s); ≥ 1 (or NaN) keeps everything.
	TopP float64
	// TopK > 0 then keeps at most the TopK most likely tokens (ties broken
	// by lower id); 0 or ≥ vocab: off.
	TopK int
	// Presence and Frequency: logits[t] -= Presence + occ[t]·Frequency for
	// every token t generated so far in this reply (§11.2 step 2).
	Presence, Frequency float64
	// Decay multiplies every occ entry before a new token is counted. 0 is
	// taken as 1 (no decay).
	Decay float64
	// Seed seeds the PCG generator. Any value is valid, 0 included; pick a
	// random one when the user gave none.
	Seed uint64
	// Ban lists token ids whose logit is set to −Inf (ids outside the
	// vocabulary are ignored).
	Ban []int
	// Allow, when non-nil, is a mask: ids with Allow[id] false, and ids ≥
	// len(Allow), get −Inf (e.g. padded model vocabularies, whose extra rows
	// the tokenizer cannot decode).
	Allow []bool
}

// pcgStream is the fixed second PCG word; the user's seed is the first.
const pcgStream = 0x853c49e6748fea9b

// nBuckets is the number of power-of-two weight buckets used to bound the
// top-k candidates.
const nBuckets = 64

// Sampler samples tokens for one generation at a time. It is not safe for
// concurrent use.
type Sampler struct {
	p     Params
	vocab int
	pcg   *rand.PCG
	rng   *rand.Rand

	work []float32 // penalised logits
	e    []float64 // exp(work − max)
	q    []float64 // final weights (over cand, or over the vocabulary)
	cand []int32   // candidate ids, sorted by probability descending

	occ    []float64 // occurrence weight per id
	seen   []bool    // id is in occ (gets the presence penalty)
	occIDs []int32   // ids in occ, in first-seen order
}

// New returns a sampler for a vocabulary of vocab tokens.
func New(vocab int, p Params) *Sampler {
	if vocab <= 0 {
		panic(fmt.Sprintf("sampler: vocabulary size %d", vocab))
	}
	s := &Sampler{
		vocab:  vocab,
		work:   make([]float32, vocab),
		e:      make([]float64, vocab),
		q:      make([]float64, vocab),
		cand:   make([]int32, 0, vocab),
		occ:    make([]float64, vocab),
		seen:   make([]bool, vocab),
		occIDs: make([]int32, 0, vocab),
	}
	s.pcg = rand.NewPCG(p.Seed, pcgStream)
	s.rng = rand.New(s.pcg)
	s.setParams(p)
	return s
}

// Vocab returns the vocabulary size the sampler was built for.
func (s *Sampler) Vocab() int { return s.vocab }

// Params returns the current settings.
func (s *Sampler) Params() Params {
	p := s.p
	p.Ban = slices.Clone(p.Ban)
	p.Allow = slices.Clone(p.Allow)
	return p
}

// SetParams changes the settings; the occurrence counts are kept. The
// generator is re-seeded only if the seed changed, so changing, say, the
// temperature mid-conversation continues the same random sequence.
func (s *Sampler) SetParams(p Params) {
	if p.Seed != s.p.Seed {
		s.pcg.Seed(p.Seed, pcgStream)
	}
	s.setParams(p)
}

func (s *Sampler) setParams(p Params) {
	p.Ban = slices.Clone(p.Ban)
	p.Allow = slices.Clone(p.Allow)
	s.p = p
}

// Reseed restarts the random sequence from seed.
func (s *Sampler) Reseed(seed uint64) {
	s.p.Seed = seed
	s.pcg.Seed(seed, pcgStream)
}

// Reset forgets the occurrence counts (call it at the start of each reply:
// the prompt and earlier replies do not count, §11.2).
func (s *Sampler) Reset() {
	for _, id := range s.occIDs {
		s.occ[id] = 0
		s.seen[id] = false
	}
	s.occIDs = s.occIDs[:0]
}

// spaceDigits: a token whose text is a substring of this gets no frequency
// weight (§11.2 step 5).
var spaceDigits = []byte(" \t0123456789")

// Accept records a generated token (§11.2 steps 4–5): every existing
// occurrence weight is multiplied by Decay, then occ[id] += www, where www
// is 0 if text — the token's decoded bytes — is a substring of
// " \t0123456789" (a space, a tab, digits, or empty) and 1 otherwise. A new
// entry starts at www, so such tokens still get the presence penalty. Do not
// call Accept for a stop token that is not emitted. Ids outside the
// vocabulary are ignored.
func (s *Sampler) Accept(id int, text []byte) {
	if id < 0 || id >= s.vocab {
		return
	}
	if d := s.p.Decay; d != 0 && d != 1 {
		for _, t := range s.occIDs {
			s.occ[t] *= d
		}
	}
	www := 1.0
	if bytes.Contains(spaceDigits, text) {
		www = 0
	}
	if !s.seen[id] {
		s.seen[id] = true
		s.occIDs = append(s.occIDs, int32(id))
		s.occ[id] = www
	} else {
		s.occ[id] += www
	}
}

// Occurrence returns the occurrence weight of id and whether id is counted
// (gets the presence penalty).
func (s *Sampler) Occurrence(id int) (float64, bool) {
	if id < 0 || id >= s.vocab {
		return 0, false
	}
	return s.occ[id], s.seen[id]
}

// Penalized writes the logits after bans, mask and penalties (§11.2 steps
// 1–2) into dst (grown if needed) and returns it; logits is not modified.
// Each penalty is computed in float64 and subtracted in float32, like the
// reference's fp32 tensor minus a Python float.
func (s *Sampler) Penalized(logits []float32, dst []float32) []float32 {
	s.penalize(logits)
	dst = slices.Grow(dst[:0], s.vocab)[:s.vocab]
	copy(dst, s.work)
	return dst
}

func (s *Sampler) penalize(logits []float32) {
	if len(logits) != s.vocab {
		panic(fmt.Sprintf("sampler: got %d logits, built for a vocabulary of %d", len(logits), s.vocab))
	}
	w := s.work
	copy(w, logits)
	ninf := float32(math.Inf(-1))
	for _, id := range s.p.Ban {
		if id >= 0 && id < len(w) {
			w[id] = ninf
		}
	}
	if s.p.Allow != nil {
		for i := range w {
			if i >= len(s.p.Allow) || !s.p.Allow[i] {
				w[i] = ninf
			}
		}
	}
	pres, freq := s.p.Presence, s.p.Frequency
	if pres != 0 || freq != 0 {
		for _, id := range s.occIDs {
			w[id] -= float32(pres + s.occ[id]*freq)
		}
	}
}

// normalize replaces NaN logits by −Inf, reduces +Inf logits to a uniform
// choice among them (+Inf → 0, everything else → −Inf) and returns the
// maximum and the lowest id holding it. ok is false when every logit is −Inf.
func (s *Sampler) normalize() (m float32, arg int, ok bool) {
	w := s.work
	ninf := float32(math.Inf(-1))
	m, arg = ninf, 0
	for i, l := range w {
		if l != l {
			w[i] = ninf
			continue
		}
		if l > m {
			m, arg = l, i
		}
	}
	if math.IsInf(float64(m), 1) {
		for i, l := range w {
			if math.IsInf(float64(l), 1) {
				w[i] = 0
			} else {
				w[i] = ninf
			}
		}
		m = 0
	}
	return m, arg, !math.IsInf(float64(m), -1)
}

// Sample returns the next token for logits (len must equal the vocabulary):
// bans, mask and penalties are applied to an internal copy (logits is not
// modified), then greedy argmax or softmax → top-p → top-k → temperature →
// draw. A draw uses exactly one number of the random sequence; greedy uses
// none. NaN logits count as −Inf; if any logit is +Inf, the +Inf tokens
// share all the probability. If every token is banned or masked, Sample
// returns 0 (end of document, which stops generation). Sample does not
// record the token: call Accept once it is emitted.
func (s *Sampler) Sample(logits []float32) int {
	s.penalize(logits)
	m, arg, ok := s.normalize()
	if !ok {
		return 0
	}
	if !(s.p.Temperature > 0) {
		return arg
	}
	ids, q, total := s.distribution(m)
	u := s.rng.Float64() * total
	acc := 0.0
	last := -1
	for j, x := range q {
		if x == 0 {
			continue
		}
		acc += x
		last = j
		if acc > u {
			return s.id(ids, j)
		}
	}
	return s.id(ids, last) // not reached: acc ends at total > u
}

func (s *Sampler) id(ids []int32, j int) int {
	if ids == nil {
		return j
	}
	return int(ids[j])
}

// Probs writes into dst (grown if needed) the exact distribution Sample
// draws from for logits and returns it: probability 0 for filtered and
// banned tokens, 1 on the argmax for greedy, all zeros if every token is
// banned. It does not advance the random generator.
func (s *Sampler) Probs(logits []float32, dst []float64) []float64 {
	s.penalize(logits)
	dst = slices.Grow(dst[:0], s.vocab)[:s.vocab]
	clear(dst)
	m, arg, ok := s.normalize()
	if !ok {
		return dst
	}
	if !(s.p.Temperature > 0) {
		dst[arg] = 1
		return dst
	}
	ids, q, total := s.distribution(m)
	for j, x := range q {
		dst[s.id(ids, j)] = x / total
	}
	return dst
}

// distribution computes the unnormalised final weights q and their sum.
// ids == nil means q is indexed by token id (no filtering); otherwise q[j]
// is the weight of ids[j]. The work logits must be normalised (max m finite).
func (s *Sampler) distribution(m float32) (ids []int32, q []float64, total float64) {
	w := s.work
	T := s.p.Temperature
	P := s.p.TopP
	K := s.p.TopK
	filterP := P < 1
	filterK := K > 0 && K < s.vocab
	fm := float64(m)

	if !filterP && !filterK {
		q = s.q[:s.vocab]
		invT := 1 / T
		for i, l := range w {
			x := 0.0
			if !math.IsInf(float64(l), -1) {
				if T == 1 {
					x = math.Exp(float64(l) - fm)
				} else {
					x = math.Exp((float64(l) - fm) * invT)
				}
			}
			q[i] = x
			total += x
		}
		return nil, q, total
	}

	// Softmax numerators e = exp(l − max) ∈ [0, 1] and their sum Z.
	e := s.e
	ninf := float32(math.Inf(-1))
	Z := 0.0
	for i, l := range w {
		x := 0.0
		if l != ninf {
			x = math.Exp(float64(l) - fm)
		}
		e[i] = x
		Z += x
	}

	// A weight threshold below which nothing can be kept, so that only the
	// tokens above it need to be looked at. Top-p: the tokens under
	// (1−P)·Z/V weigh less than (1−P)·Z together, so those above it reach
	// P·Z. Top-k: the power of two under which fewer than K tokens lie
	// (counted per power-of-two bucket).
	P = max(P, 0)
	thr := 0.0
	if filterP {
		thr = (1 - P) * Z / float64(len(e))
	}
	if filterK {
		var hc [nBuckets]int
		for _, x := range e {
			if x > 0 {
				hc[bucket(x)]++
			}
		}
		n := 0
		for b := range nBuckets - 1 {
			n += hc[b]
			if n >= K {
				thr = max(thr, math.Ldexp(1, -b))
				break
			}
		}
	}

	for {
		cand := s.cand[:0]
		for i, x := range e {
			if x >= thr && x > 0 {
				cand = append(cand, int32(i))
			}
		}

		kept := len(cand)
		if filterP {
			k, found := selectTopP(cand, e, P*Z)
			if !found && !(filterK && len(cand) >= K) && thr > 0 {
				thr = 0 // rounding defeated the bound: take everything
				continue
			}
			if found {
				kept = k
			}
		}
		if filterK && kept > K {
			selectTopK(cand[:kept], e, K)
			kept = K
		}

		ids = cand[:kept]
		q = s.q[:kept]
		invT := 1 / T
		for j, id := range ids {
			x := e[id]
			if T != 1 {
				x = math.Exp((float64(w[id]) - fm) * invT)
			}
			q[j] = x
			total += x
		}
		return ids, q, total
	}
}

// maxDepth bounds the quickselect rounds before falling back to a sort.
const maxDepth = 64

// selectTopP reorders cand (ids with weights e) so that cand[:k] holds
// exactly the tokens top-p keeps: with the weights sorted in decreasing
// order, the first one at which the running sum reaches target is the
// cutoff, and every token with a weight ≥ the cutoff is kept (ties at the
// cutoff included; target ≤ 0 keeps the maximum and its ties). It is a
// three-way quickselect on the running mass, expected O(len(cand)); the
// kept ids come out in no particular order. found is false when the whole
// mass of cand stays below target.
func selectTopP(cand []int32, e []float64, target float64) (k int, found bool) {
	lo, hi := 0, len(cand)
	above := 0.0 // mass of cand[:lo], all heavier than cand[lo:hi]
	for depth := 0; lo < hi; depth++ {
		if depth == maxDepth { // pathological pivots: finish by sorting
			r := cand[lo:hi]
			slices.SortFunc(r, func(a, b int32) int { return cmp.Compare(e[b], e[a]) })
			for j, id := range r {
				above += e[id]
				if above >= target {
					j++
					for j < len(r) && e[r[j]] == e[id] {
						j++
					}
					return lo + j, true
				}
			}
			return len(cand), false
		}
		r := cand[lo:hi]
		v := e[r[median3(r, e)]]
		// Three-way partition of r: [> v][== v][< v].
		gt, lt := 0, len(r)
		mg, me := 0.0, 0.0
		for i := 0; i < lt; {
			x := e[r[i]]
			switch {
			case x > v:
				r[gt], r[i] = r[i], r[gt]
				gt++
				i++
				mg += x
			case x < v:
				lt--
				r[lt], r[i] = r[i], r[lt]
			default:
				me += x
				i++
			}
		}
		switch {
		case gt > 0 && above+mg >= target:
			hi = lo + gt
		case above+mg+me >= target:
			return lo + lt, true
		default:
			above += mg + me
			lo += lt
		}
	}
	return len(cand), false
}

// selectTopK reorders a so that a[:k] holds its k first ids in the order
// "larger weight first, lower id on ties" (quickselect, expected O(len(a));
// a[:k] comes out in no particular order).
func selectTopK(a []int32, e []float64, k int) {
	before := func(x, y int32) bool { return e[x] > e[y] || (e[x] == e[y] && x < y) }
	lo, hi := 0, len(a)
	for depth := 0; hi-lo > 1; depth++ {
		if depth == maxDepth {
			slices.SortFunc(a[lo:hi], func(x, y int32) int {
				if c := cmp.Compare(e[y], e[x]); c != 0 {
					return c
				}
				return cmp.Compare(x, y)
			})
			return
		}
		m := lo + median3(a[lo:hi], e)
		a[m], a[hi-1] = a[hi-1], a[m]
		pv := a[hi-1]
		store := lo
		for i := lo; i < hi-1; i++ {
			if before(a[i], pv) {
				a[i], a[store] = a[store], a[i]
				store++
			}
		}
		a[store], a[hi-1] = a[hi-1], a[store]
		switch {
		case store == k || store == k-1:
			return
		case store > k:
			hi = store
		default:
			lo = store + 1
		}
	}
}

// median3 returns the index in r of the median weight among its first,
// middle and last entries.
func median3(r []int32, e []float64) int {
	i, j, k := 0, len(r)/2, len(r)-1
	a, b, c := e[r[i]], e[r[j]], e[r[k]]
	switch {
	case (a <= b && b <= c) || (c <= b && b <= a):
		return j
	case (b <= a && a <= c) || (c <= a && a <= b):
		return i
	}
	return k
}

// bucket returns b with x ∈ [2^-b, 2^-b+1) for x ∈ (0, 1], clamped to the
// last bucket.
func bucket(x float64) int {
	exp := int(math.Float64bits(x)>>52&0x7ff) - 1023 // x = 1.f · 2^exp
	b := -exp
	if b >= nBuckets || b < 0 {
		return nBuckets - 1
	}
	return b
}
