package model

import (
	"math"

	"github.com/rwkv-chat/rwkv-chat/internal/kernels"
)

// Sequence mode runs the element-wise work between the products (norms,
// token-shift mixes, the v7 gates) on the worker pool too, split by
// tokens: each token's arithmetic is the serial loop's, so the results do
// not change, and with one token (decode) a stage runs on the caller.

type seqStage int

const (
	stageLN1   seqStage = iota // xx = ln1(x)
	stageLN2                   // xx = ln2(x)
	stageAdd                   // x += out
	stageMix7                  // v7: the six token-shift lerps
	stageGate7                 // v7: a, decay, kk, k, b and the v mix
	stageOut7                  // v7: group norm, bonus, ·g
	stageFFN7                  // v7: the channel mix's lerp
	stageAtt7                  // v7 decode: gate, recurrence and output per head
)

type seqTask struct {
	m     *Model
	l     *layer
	i     int
	stage seqStage
	st    *State // stageAtt7's recurrent state
}

// seq runs one stage for tokens [0, T).
func (m *Model) seq(stage seqStage, l *layer, i, T int) {
	m.stask = seqTask{m: m, l: l, i: i, stage: stage}
	kernels.Default().Parallel(T, 1, &m.stask)
	m.stask = seqTask{}
}

func (t *seqTask) Run(_, lo, hi int) {
	m, l := t.m, t.l
	s := &m.sc
	C := m.Cfg.Embd
	if t.stage == stageAtt7 {
		m.att7(l, t.i, t.st, lo, hi)
		return
	}
	A := m.Cfg.Att
	for tok := lo; tok < hi; tok++ {
		x, xx, sx := s.x[tok*C:(tok+1)*C], s.xx[tok*C:(tok+1)*C], s.sx[tok*C:(tok+1)*C]
		switch t.stage {
		case stageLN1:
			kernels.LayerNorm(xx, x, l.ln1w, l.ln1b, 1e-5)
		case stageLN2:
			kernels.LayerNorm(xx, x, l.ln2w, l.ln2b, 1e-5)
		case stageAdd:
			add(x, s.out[tok*C:(tok+1)*C])
		case stageMix7:
			lerp(s.xr[tok*C:(tok+1)*C], xx, sx, l.mixR)
			lerp(s.xw[tok*C:(tok+1)*C], xx, sx, l.mixW)
			lerp(s.xk[tok*C:(tok+1)*C], xx, sx, l.mixK)
			lerp(s.xv[tok*C:(tok+1)*C], xx, sx, l.mixV)
			lerp(s.xa[tok*C:(tok+1)*C], xx, sx, l.mixA)
			lerp(s.xg[tok*C:(tok+1)*C], xx, sx, l.mixG)
		case stageGate7:
			m.gate7(l, t.i, tok, 0, A)
		case stageOut7:
			m.out7(l, tok, 0, A)
		case stageFFN7:
			lerp(s.xk[tok*C:(tok+1)*C], xx, sx, l.fMixK)
		}
	}
}

// gate7 turns token tok's LoRA outputs into the recurrence's inputs for
// the channels [c0, c1) (whole heads): a = σ(a0 + …); decay =
// exp(−0.606531·σ(w0 + …)); kk = normalize(k ⊙ k_k) per head (from the
// original k); k ← k·(1 + (a−1)·k_a); b = kk ⊙ a; and past layer 0,
// v ← v + (v_first − v)·σ(v0 + …).
func (m *Model) gate7(l *layer, i, tok, c0, c1 int) {
	s := &m.sc
	A, N := m.Cfg.Att, m.Cfg.HeadSize
	o := tok*A + c0
	n := c1 - c0
	at, wt, kt, kkt, bt := s.a[o:o+n], s.w[o:o+n], s.k[o:o+n], s.kk[o:o+n], s.b[o:o+n]
	vt, vf, tmp := s.v[o:o+n], s.vf[o:o+n], s.tmp[o:o+n]
	add(at, l.a0[c0:c1])
	add(wt, l.w0[c0:c1])
	kernels.Sigmoid(at, at)
	kernels.Sigmoid(wt, wt)
	for j := range wt {
		wt[j] *= -0.606531
	}
	kernels.Exp(wt, wt)
	kkw := l.kk[c0:c1]
	for j := range kkt {
		kkt[j] = kt[j] * kkw[j]
	}
	for h := 0; h+N <= n; h += N {
		hv := kkt[h : h+N]
		var ss float64
		for _, q := range hv {
			ss += float64(q) * float64(q)
		}
		inv := float32(1 / math.Max(math.Sqrt(ss), 1e-12))
		for j := range hv {
			hv[j] *= inv
		}
	}
	ka := l.ka[c0:c1]
	for j := range kt {
		kt[j] *= 1 + (at[j]-1)*ka[j]
		bt[j] = kkt[j] * at[j]
	}
	if i == 0 {
		copy(vf, vt)
		return
	}
	add(tmp, l.v0[c0:c1])
	kernels.Sigmoid(tmp, tmp)
	for q := range vt {
		vt[q] += (vf[q] - vt[q]) * tmp[q]
	}
}

// out7 finishes token tok's attention output for the channels [c0, c1)
// (whole heads): group norm, the bonus (Σ r·k·r_k per head)·v, and the
// gate g.
func (m *Model) out7(l *layer, tok, c0, c1 int) {
	s := &m.sc
	A, N := m.Cfg.Att, m.Cfg.HeadSize
	o := tok*A + c0
	n := c1 - c0
	y, r, k, v, g := s.y[o:o+n], s.r[o:o+n], s.k[o:o+n], s.v[o:o+n], s.g[o:o+n]
	kernels.GroupNorm(y, y, N, l.lnxW[c0:c1], l.lnxB[c0:c1], m.Cfg.GroupNormEps)
	rk := l.rk[c0:c1]
	for hs := 0; hs+N <= n; hs += N {
		var bonus float32
		for j := 0; j < N; j++ {
			bonus += r[hs+j] * k[hs+j] * rk[hs+j]
		}
		for j := 0; j < N; j++ {
			y[hs+j] += bonus * v[hs+j]
		}
	}
	mul(y, g)
}

// att7 is one decode token's attention between the products for the heads
// [h0, h1): gate7, the recurrence, out7. Each head's arithmetic is that of
// the separate stages, so splitting the heads across the workers (which
// halves this serial stretch of decode) changes no result.
func (m *Model) att7(l *layer, i int, st *State, h0, h1 int) {
	s := &m.sc
	N := m.Cfg.HeadSize
	c0, c1 := h0*N, h1*N
	m.gate7(l, i, 0, c0, c1)
	kernels.WKV7(h1-h0, N, s.r[c0:c1], s.w[c0:c1], s.k[c0:c1], s.v[c0:c1], s.kk[c0:c1], s.b[c0:c1],
		st.wkv(i)[h0*N*N:h1*N*N], s.y[c0:c1])
	m.out7(l, 0, c0, c1)
}
