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
)

type seqTask struct {
	m     *Model
	l     *layer
	i     int
	stage seqStage
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
			m.gate7(l, t.i, tok)
		case stageOut7:
			m.out7(l, tok)
		case stageFFN7:
			lerp(s.xk[tok*C:(tok+1)*C], xx, sx, l.fMixK)
		}
	}
}

// gate7 turns token tok's LoRA outputs into the recurrence's inputs:
// a = σ(a0 + …); decay = exp(−0.606531·σ(w0 + …)); kk = normalize(k ⊙ k_k)
// per head (from the original k); k ← k·(1 + (a−1)·k_a); b = kk ⊙ a; and
// past layer 0, v ← v + (v_first − v)·σ(v0 + …).
func (m *Model) gate7(l *layer, i, tok int) {
	s := &m.sc
	A, H, N := m.Cfg.Att, m.Cfg.Heads, m.Cfg.HeadSize
	o := tok * A
	at, wt, kt, kkt, bt := s.a[o:o+A], s.w[o:o+A], s.k[o:o+A], s.kk[o:o+A], s.b[o:o+A]
	vt, vf, tmp := s.v[o:o+A], s.vf[o:o+A], s.tmp[o:o+A]
	add(at, l.a0)
	add(wt, l.w0)
	kernels.Sigmoid(at, at)
	kernels.Sigmoid(wt, wt)
	for j := range wt {
		wt[j] *= -0.606531
	}
	kernels.Exp(wt, wt)
	for j := range kkt {
		kkt[j] = kt[j] * l.kk[j]
	}
	for h := 0; h < H; h++ {
		hv := kkt[h*N : (h+1)*N]
		var ss float64
		for _, q := range hv {
			ss += float64(q) * float64(q)
		}
		inv := float32(1 / math.Max(math.Sqrt(ss), 1e-12))
		for j := range hv {
			hv[j] *= inv
		}
	}
	for j := range kt {
		kt[j] *= 1 + (at[j]-1)*l.ka[j]
		bt[j] = kkt[j] * at[j]
	}
	if i == 0 {
		copy(vf, vt)
		return
	}
	add(tmp, l.v0)
	kernels.Sigmoid(tmp, tmp)
	for q := range vt {
		vt[q] += (vf[q] - vt[q]) * tmp[q]
	}
}

// out7 finishes token tok's attention output: group norm, the bonus
// (Σ r·k·r_k per head)·v, and the gate g.
func (m *Model) out7(l *layer, tok int) {
	s := &m.sc
	A, H, N := m.Cfg.Att, m.Cfg.Heads, m.Cfg.HeadSize
	o := tok * A
	y, r, k, v, g := s.y[o:o+A], s.r[o:o+A], s.k[o:o+A], s.v[o:o+A], s.g[o:o+A]
	kernels.GroupNorm(y, y, N, l.lnxW, l.lnxB, m.Cfg.GroupNormEps)
	for h := 0; h < H; h++ {
		hs := h * N
		var bonus float32
		for j := 0; j < N; j++ {
			bonus += r[hs+j] * k[hs+j] * l.rk[hs+j]
		}
		for j := 0; j < N; j++ {
			y[hs+j] += bonus * v[hs+j]
		}
	}
	mul(y, g)
}
