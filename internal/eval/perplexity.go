package eval

import (
	"fmt"
	"math"

	"github.com/rwkv-chat/rwkv-chat/internal/model"
)

// PerplexityResult is what `perplexity --json` prints.
type PerplexityResult struct {
	Tokens  int     `json:"tokens"`            // tokens of the text
	Scored  int     `json:"scored"`            // tokens whose log-probability is summed
	NLL     float64 `json:"nll"`               // mean negative log-likelihood per scored token
	PPL     float64 `json:"ppl"`               // exp(NLL)
	Context int     `json:"context,omitempty"` // window length N (strided mode)
	Stride  int     `json:"stride,omitempty"`  // N/2
	Windows int     `json:"windows,omitempty"` // windows evaluated
}

// Perplexity scores a token stream fed to it piece by piece with Add: it
// sums −log p(t_i | t_<i) for every token but the first, holding only the
// recurrent state (or, in strided mode, one window of ids), so memory does
// not grow with the length of the stream.
//
// With context N = 0 the whole stream goes through one state: every token
// is conditioned on everything before it.
//
// With context N ≥ 2 (strided evaluation, stride S = ⌊N/2⌋): window k
// holds the tokens [k·S, k·S+N) of the stream and is run from a fresh
// state. Window 0 scores its tokens 1 … N−1; every later window scores
// only its tokens from index N−S on — exactly the tokens the previous
// window did not reach — so every token but the first is scored once, each
// with at least N−S = ⌈N/2⌉ tokens of context inside its window (fewer
// only in the first window). The unscored head of a window (its first N−S
// tokens but the last) is fed without computing logits. The last window
// ends with the stream and may be shorter. A stream of at most N tokens is
// one window and scores as with N = 0. Each token is fed about twice.
type Perplexity struct {
	m       *model.Model
	ctx     int
	stride  int
	st      *model.State
	logits  []float32
	in      []int
	prev    int
	hasPrev bool
	win     []int // strided: the ids of the current window
	from    int   // strided: index in win of the first unscored id
	nll     float64
	scored  int
	tokens  int
	windows int
}

// scoreChunk is how many positions' logits are computed at once.
const scoreChunk = 64

// NewPerplexity returns a scorer of m; context is N (0: no windows).
func NewPerplexity(m *model.Model, context int) (*Perplexity, error) {
	if context < 0 || context == 1 {
		return nil, fmt.Errorf("context %d: want 0 (no windows) or at least 2", context)
	}
	p := &Perplexity{m: m, ctx: context, st: m.NewState(), logits: make([]float32, scoreChunk*m.Cfg.Vocab)}
	if context > 0 {
		p.stride = context / 2
		p.from = 1
		p.win = make([]int, 0, context)
	}
	return p, nil
}

// Add feeds the next ids of the stream.
func (p *Perplexity) Add(ids []int) error {
	p.tokens += len(ids)
	if p.ctx == 0 {
		return p.addFlat(ids)
	}
	for len(ids) > 0 {
		n := min(p.ctx-len(p.win), len(ids))
		p.win = append(p.win, ids[:n]...)
		ids = ids[n:]
		if len(p.win) == p.ctx {
			if err := p.scoreWindow(); err != nil {
				return err
			}
			p.win = p.win[:copy(p.win, p.win[p.stride:])]
			p.from = p.ctx - p.stride
		}
	}
	return nil
}

// addFlat continues the single state: inputs are the previous id and ids
// but their last, targets are ids.
func (p *Perplexity) addFlat(ids []int) error {
	V := p.m.Cfg.Vocab
	if !p.hasPrev && len(ids) > 0 {
		p.prev, p.hasPrev = ids[0], true
		ids = ids[1:]
	}
	for len(ids) > 0 {
		n := min(scoreChunk, len(ids))
		p.in = append(append(p.in[:0], p.prev), ids[:n-1]...)
		if err := p.m.ForwardAll(p.st, p.in, p.logits); err != nil {
			return err
		}
		for t := 0; t < n; t++ {
			p.nll -= LogProb(p.logits[t*V:(t+1)*V], ids[t])
		}
		p.scored += n
		p.prev = ids[n-1]
		ids = ids[n:]
	}
	return nil
}

// scoreWindow runs win from a fresh state and scores win[from:].
func (p *Perplexity) scoreWindow() error {
	w, V := p.win, p.m.Cfg.Vocab
	if len(w) <= p.from {
		return nil
	}
	p.windows++
	p.st.Reset()
	if p.from > 1 {
		if err := p.m.Forward(p.st, w[:p.from-1], nil); err != nil {
			return err
		}
	}
	for i := p.from; i < len(w); {
		n := min(scoreChunk, len(w)-i)
		if err := p.m.ForwardAll(p.st, w[i-1:i-1+n], p.logits); err != nil {
			return err
		}
		for t := 0; t < n; t++ {
			p.nll -= LogProb(p.logits[t*V:(t+1)*V], w[i+t])
		}
		p.scored += n
		i += n
	}
	p.from = len(w)
	return nil
}

// Result scores what is left (the last, shorter window) and returns the
// totals. It fails when fewer than 2 tokens were fed.
func (p *Perplexity) Result() (PerplexityResult, error) {
	if p.ctx > 0 {
		if err := p.scoreWindow(); err != nil {
			return PerplexityResult{}, err
		}
	}
	res := PerplexityResult{Tokens: p.tokens, Scored: p.scored, Context: p.ctx, Stride: p.stride, Windows: p.windows}
	if p.scored == 0 {
		return res, fmt.Errorf("the text has %d tokens; at least 2 are needed to score one", p.tokens)
	}
	res.NLL = p.nll / float64(p.scored)
	res.PPL = math.Exp(res.NLL)
	return res, nil
}

// Running returns the mean NLL and perplexity so far (for progress).
func (p *Perplexity) Running() (scored int, ppl float64) {
	if p.scored == 0 {
		return 0, math.NaN()
	}
	return p.scored, math.Exp(p.nll / float64(p.scored))
}
