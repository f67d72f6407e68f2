package model

import (
	"errors"
	"fmt"
	"sync"

	"github.com/rwkv-chat/rwkv-chat/internal/format"
	"github.com/rwkv-chat/rwkv-chat/internal/kernels"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// Model is a loaded network. Its weights are read-only; Forward may be
// called from several goroutines (calls are serialised: they share the
// worker pool and the scratch buffers).
type Model struct {
	Cfg Config
	// Chunk is the most tokens one sequence-mode pass takes (default
	// DefaultChunk; spec §4: any split gives the same result). 1 makes
	// every step serial.
	Chunk int
	// Format names the file format the weights came from.
	Format string

	emb            *kernels.Mat
	head           *kernels.Mat
	ln0w, ln0b     []float32
	lnOutW, lnOutB []float32
	layers         []layer
	names          []string
	file           *format.File
	params         int64
	fingerprint    string

	mu    sync.Mutex
	sc    scratch
	stask seqTask // the running stage of seq
}

// layer holds one block's weights, in the canonical form of spec §0: decays
// transformed, every matrix (out, in). Unused fields stay nil.
type layer struct {
	ln1w, ln1b, ln2w, ln2b []float32

	// Token-shift coefficients: "mix" (v4/v5) or "maa"/lerp (v6/v7).
	mixK, mixV, mixR, mixG, mixW, mixA []float32
	maaX                               []float32 // v6

	key, value, recept, output, gate *kernels.Mat
	lnxW, lnxB                       []float32

	decay []float32 // v4: −exp(d); v5: exp(−exp(d)); v6: raw log-decay
	first []float32 // u, per channel

	// v6 LoRAs.
	maaW1        *kernels.Mat
	maaW2        [5]*kernels.Mat
	decW1, decW2 *kernels.Mat

	// v7.
	w0, a0, v0, kk, ka, rk []float32
	w1, w2, a1, a2         *kernels.Mat
	v1, v2, g1, g2         *kernels.Mat

	// ChannelMix.
	fMixK, fMixR          []float32
	fKey, fValue, fRecept *kernels.Mat
}

// TensorNames lists the tensors the model was built from.
func (m *Model) TensorNames() []string { return m.names }

// Fingerprint identifies the model (dims and tensor metadata).
func (m *Model) Fingerprint() string { return m.fingerprint }

// Params is the number of weights in the file.
func (m *Model) Params() int64 { return m.params }

// WeightBytes is the size of the matrices: what one decode step reads.
func (m *Model) WeightBytes() int64 {
	var n int64
	for _, mt := range m.mats() {
		if mt == m.emb {
			continue // one row per token
		}
		n += int64(mt.Bytes())
	}
	return n
}

// DTypes lists the matrix types in use, with how many matrices of each.
func (m *Model) DTypes() map[tensor.DType]int {
	out := map[tensor.DType]int{}
	for _, mt := range m.mats() {
		out[mt.DType]++
	}
	return out
}

// DominantType is the type holding the most bytes of the layers' main
// projections (r, k, v, o, gate and the channel mix): what a file is "in".
// rwkv.cpp's quantized files keep the embedding, the head and the LoRA
// matrices in a float type, and at 0.4B those outweigh the rest.
func (m *Model) DominantType() tensor.DType {
	bytes := map[tensor.DType]int{}
	for i := range m.layers {
		for _, mt := range m.layers[i].projections() {
			if mt != nil {
				bytes[mt.DType] += mt.Bytes()
			}
		}
	}
	best, n := tensor.F32, -1
	for dt, b := range bytes {
		if b > n || (b == n && dt < best) {
			best, n = dt, b
		}
	}
	return best
}

// projections are a layer's main matrices (nil where its version has
// none): r, k, v, o, the gate and the channel mix's, without the LoRAs.
func (l *layer) projections() []*kernels.Mat {
	return []*kernels.Mat{l.key, l.value, l.recept, l.output, l.gate, l.fKey, l.fValue, l.fRecept}
}

func (m *Model) mats() []*kernels.Mat {
	out := []*kernels.Mat{m.emb, m.head}
	for i := range m.layers {
		l := &m.layers[i]
		for _, mt := range append(l.projections(), l.maaW1, l.decW1, l.decW2,
			l.w1, l.w2, l.a1, l.a2, l.v1, l.v2, l.g1, l.g2) {
			if mt != nil {
				out = append(out, mt)
			}
		}
		for _, mt := range l.maaW2 {
			if mt != nil {
				out = append(out, mt)
			}
		}
	}
	return out
}

// scratch holds every activation buffer of a pass of up to T tokens, so the
// per-token path allocates nothing.
type scratch struct {
	T                      int
	x, xx, sx, out         []float32 // T×C
	xr, xk, xv, xg, xw, xa []float32 // T×C
	r, k, v, g, w, a, y    []float32 // T×A
	kk, b, vf, tmp         []float32 // T×A
	act                    []float32 // T×A, activation temporaries
	lora                   []float32 // T×(largest LoRA rank·5)
	lora2                  []float32 // T×C
	fk                     []float32 // T×F
	lnOut                  []float32 // T×C
	loraH                  []float32 // T×4×loraN: v7's LoRA hidden vectors
	loraN                  int       // the largest LoRA rank
	jobs                   [8]kernels.MatVecJob
	logitsAll              []float32 // T×V, only for ForwardAll
}

// DefaultChunk is the default Chunk. Longer passes amortize each weight
// tile's decoding over more tokens: on a 0.4B model, 64-token passes
// prefill at 0.8× the speed of 256-token ones; 512 gains little more while
// the scratch (≈ 230 KB per token at 1.5B) doubles.
const DefaultChunk = 256

func (m *Model) initScratch() {
	if m.Chunk == 0 {
		m.Chunk = DefaultChunk
	}
}

func (m *Model) ensureScratch(T int, all bool) {
	s := &m.sc
	c := &m.Cfg
	if s.T < T {
		C, A, F := c.Embd, c.Att, c.FFN
		mk := func(n int) []float32 { return make([]float32, T*n) }
		s.x, s.xx, s.sx, s.out = mk(C), mk(C), mk(C), mk(C)
		s.xr, s.xk, s.xv, s.xg, s.xw, s.xa = mk(C), mk(C), mk(C), mk(C), mk(C), mk(C)
		s.r, s.k, s.v, s.g, s.w, s.a, s.y = mk(A), mk(A), mk(A), mk(A), mk(A), mk(A), mk(A)
		s.kk, s.b, s.vf, s.tmp, s.act = mk(A), mk(A), mk(A), mk(A), mk(A)
		s.lora, s.lora2 = mk(m.maxLoRA()), mk(max(C, A))
		s.fk = mk(F)
		s.lnOut = mk(C)
		s.loraN = m.maxLoRA()
		s.loraH = mk(4 * s.loraN)
		s.logitsAll = nil
		s.T = T
	}
	if all && len(s.logitsAll) < s.T*c.Vocab {
		s.logitsAll = make([]float32, s.T*c.Vocab)
	}
}

func (m *Model) maxLoRA() int {
	n := 1
	for i := range m.layers {
		l := &m.layers[i]
		for _, mt := range []*kernels.Mat{l.maaW1, l.decW1, l.w1, l.a1, l.v1, l.g1} {
			if mt != nil && mt.Rows > n {
				n = mt.Rows
			}
		}
	}
	return n
}

// Forward feeds tokens in order, updating st, and writes the logits after
// the last token into logits (len V) unless logits is nil.
func (m *Model) Forward(st *State, tokens []int, logits []float32) error {
	return m.forward(st, tokens, logits, false)
}

// ForwardAll is Forward that writes the logits after every token:
// logits[t*V:(t+1)*V] follows tokens[t].
func (m *Model) ForwardAll(st *State, tokens []int, logits []float32) error {
	return m.forward(st, tokens, logits, true)
}

func (m *Model) forward(st *State, tokens []int, logits []float32, all bool) error {
	c := &m.Cfg
	if st == nil || len(st.Data) != c.StateFloats() {
		return fmt.Errorf("state does not belong to this model")
	}
	for _, t := range tokens {
		if t < 0 || t >= c.Vocab {
			return fmt.Errorf("token %d out of range [0, %d)", t, c.Vocab)
		}
	}
	V := c.Vocab
	if logits != nil {
		need := V
		if all {
			need = V * len(tokens)
		}
		if len(logits) < need {
			return fmt.Errorf("logits buffer has %d floats, need %d", len(logits), need)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	chunk := max(m.Chunk, 1)
	m.ensureScratch(min(chunk, max(len(tokens), 1)), all && logits != nil)
	for done := 0; done < len(tokens); {
		n := min(chunk, len(tokens)-done)
		last := done+n == len(tokens)
		var out []float32
		switch {
		case logits == nil:
		case all:
			out = logits[done*V : (done+n)*V]
		case last:
			out = logits[:V]
		}
		m.pass(st, tokens[done:done+n], out, all)
		if !finite(out) {
			return ErrNonFinite
		}
		done += n
	}
	return nil
}

// ErrNonFinite reports logits that are NaN or infinite: the weights are
// damaged (or the file is not what it claims to be).
var ErrNonFinite = errors.New("the model produced non-finite logits (damaged weights?)")

func finite(v []float32) bool {
	for _, x := range v {
		if x-x != 0 { // NaN and ±Inf
			return false
		}
	}
	return true
}

// pass runs T ≤ scratch.T tokens through the network (sequence mode, §4;
// T = 1 is the serial step of §3).
func (m *Model) pass(st *State, tokens []int, logits []float32, all bool) {
	c := &m.Cfg
	s := &m.sc
	T, C := len(tokens), c.Embd
	x := s.x[:T*C]
	for t, tok := range tokens {
		row := x[t*C : (t+1)*C]
		_ = tensor.Dequantize(m.emb.DType, m.emb.Row(tok), row)
		kernels.LayerNorm(row, row, m.ln0w, m.ln0b, 1e-5)
	}
	major := c.Major()
	for i := range m.layers {
		l := &m.layers[i]
		xx := s.xx[:T*C]
		m.seq(stageLN1, l, i, T)
		shift(xx, st.attX(i), s.sx[:T*C], C)
		switch major {
		case 4:
			m.timeMix4(l, i, st, T)
		case 5:
			m.timeMix5(l, i, st, T)
		case 6:
			m.timeMix6(l, i, st, T)
		case 7:
			m.timeMix7(l, i, st, T)
		}
		m.seq(stageAdd, l, i, T)
		m.seq(stageLN2, l, i, T)
		shift(xx, st.ffnX(i), s.sx[:T*C], C)
		m.channelMix(l, T)
		m.seq(stageAdd, l, i, T)
		if c.RescaleEvery > 0 && (i+1)%c.RescaleEvery == 0 {
			for j := range x {
				x[j] *= 0.5
			}
		}
	}
	if logits == nil {
		return
	}
	first := T - 1
	if all {
		first = 0
	}
	n := T - first
	lo := s.lnOut[:n*C]
	for t := 0; t < n; t++ {
		kernels.LayerNorm(lo[t*C:(t+1)*C], x[(first+t)*C:(first+t+1)*C], m.lnOutW, m.lnOutB, 1e-5)
	}
	kernels.MatMul(m.head, lo, n, logits[:n*c.Vocab])
}

// shift builds the token-shifted input: sx[0] = prev, sx[t] = xx[t−1], and
// stores the last row of xx as the new prev.
func shift(xx, prev, sx []float32, C int) {
	copy(sx[:C], prev)
	copy(sx[C:], xx[:len(xx)-C])
	copy(prev, xx[len(xx)-C:])
}

func add(x, y []float32) {
	for i := range x {
		x[i] += y[i]
	}
}

// mix is the v4/v5 convention: out = xx⊙μ + sx⊙(1−μ), per row.
func mix(out, xx, sx, mu []float32) {
	C := len(mu)
	for t := 0; t*C < len(xx); t++ {
		o, a, b := out[t*C:(t+1)*C], xx[t*C:(t+1)*C], sx[t*C:(t+1)*C]
		for i, u := range mu {
			o[i] = a[i]*u + b[i]*(1-u)
		}
	}
}

// lerp is the v6/v7 convention: out = xx + (sx − xx)⊙μ, per row.
func lerp(out, xx, sx, mu []float32) {
	C := len(mu)
	for t := 0; t*C < len(xx); t++ {
		kernels.Lerp(out[t*C:(t+1)*C], xx[t*C:(t+1)*C], sx[t*C:(t+1)*C], mu)
	}
}

// The element-wise activations run on the kernel set's vector Exp and
// Sigmoid (they are a large share of prefill time otherwise).

func sigmoidAll(v []float32) { kernels.Sigmoid(v, v) }

// siluAll sets v = v·σ(v), using tmp (len ≥ len(v)) for σ.
func siluAll(v, tmp []float32) {
	tmp = tmp[:len(v)]
	kernels.Sigmoid(tmp, v)
	mul(v, tmp)
}

// tanhAll uses tanh(x) = 2σ(2x) − 1.
func tanhAll(v []float32) {
	for i := range v {
		v[i] *= 2
	}
	kernels.Sigmoid(v, v)
	for i := range v {
		v[i] = 2*v[i] - 1
	}
}

func mul(x, y []float32) {
	for i := range x {
		x[i] *= y[i]
	}
}

// groupNormRows applies ln_x to each of the T rows of y (width A).
func (m *Model) groupNormRows(l *layer, y []float32, T int) {
	A, N := m.Cfg.Att, m.Cfg.HeadSize
	for t := 0; t < T; t++ {
		row := y[t*A : (t+1)*A]
		kernels.GroupNorm(row, row, N, l.lnxW, l.lnxB, m.Cfg.GroupNormEps)
	}
}

func (m *Model) timeMix4(l *layer, i int, st *State, T int) {
	s := &m.sc
	C, A := m.Cfg.Embd, m.Cfg.Att
	xx, sx := s.xx[:T*C], s.sx[:T*C]
	mix(s.xk[:T*C], xx, sx, l.mixK)
	mix(s.xv[:T*C], xx, sx, l.mixV)
	mix(s.xr[:T*C], xx, sx, l.mixR)
	r, k, v, y := s.r[:T*A], s.k[:T*A], s.v[:T*A], s.y[:T*A]
	kernels.MatMul(l.recept, s.xr, T, r)
	kernels.MatMul(l.key, s.xk, T, k)
	kernels.MatMul(l.value, s.xv, T, v)
	sigmoidAll(r)
	aa, bb, pp := st.aa(i), st.bb(i), st.pp(i)
	for t := 0; t < T; t++ {
		o := t * A
		kernels.WKV4(k[o:o+A], v[o:o+A], l.decay, l.first, aa, bb, pp, y[o:o+A])
	}
	mul(y, r)
	kernels.MatMul(l.output, y, T, s.out[:T*C])
}

func (m *Model) timeMix5(l *layer, i int, st *State, T int) {
	s := &m.sc
	c := &m.Cfg
	C, A := c.Embd, c.Att
	xx, sx := s.xx[:T*C], s.sx[:T*C]
	mix(s.xk[:T*C], xx, sx, l.mixK)
	mix(s.xv[:T*C], xx, sx, l.mixV)
	mix(s.xr[:T*C], xx, sx, l.mixR)
	r, k, v, g, y := s.r[:T*A], s.k[:T*A], s.v[:T*A], s.g[:T*A], s.y[:T*A]
	jobs := append(s.jobs[:0],
		kernels.MatVecJob{M: l.recept, X: s.xr, Y: r},
		kernels.MatVecJob{M: l.key, X: s.xk, Y: k},
		kernels.MatVecJob{M: l.value, X: s.xv, Y: v})
	if l.gate != nil {
		mix(s.xg[:T*C], xx, sx, l.mixG)
		jobs = append(jobs, kernels.MatVecJob{M: l.gate, X: s.xg, Y: g})
	}
	products(T, jobs)
	if l.gate != nil {
		siluAll(g, s.act)
	}
	S := st.wkv(i)
	kernels.WKV5Seq(T, c.Heads, c.HeadSize, r, k, v, l.decay, l.first, S, y)
	m.groupNormRows(l, y, T)
	if l.gate != nil {
		mul(y, g)
	}
	kernels.MatMul(l.output, y, T, s.out[:T*C])
}

func (m *Model) timeMix6(l *layer, i int, st *State, T int) {
	s := &m.sc
	c := &m.Cfg
	C, A := c.Embd, c.Att
	xx, sx := s.xx[:T*C], s.sx[:T*C]
	// z = xx + (sx−xx)⊙maa_x; h = tanh(W1·z), five chunks of D.
	z := s.xa[:T*C]
	lerp(z, xx, sx, l.maaX)
	D5 := l.maaW1.Rows
	D := D5 / 5
	h := s.lora[:T*D5]
	kernels.MatMul(l.maaW1, z, T, h)
	tanhAll(h)
	// m_f = W2[f]·h_f for f in (w, k, v, r, g); x_f = xx + d⊙(maa_f + m_f).
	targets := [5]struct {
		out, mu []float32
	}{{s.xw, l.mixW}, {s.xk, l.mixK}, {s.xv, l.mixV}, {s.xr, l.mixR}, {s.xg, l.mixG}}
	hf := s.tmp[:T*D]
	mf := s.lora2[:T*C]
	for f, tg := range targets {
		for t := 0; t < T; t++ {
			copy(hf[t*D:(t+1)*D], h[t*D5+f*D:t*D5+(f+1)*D])
		}
		kernels.MatMul(l.maaW2[f], hf, T, mf)
		out := tg.out[:T*C]
		for t := 0; t < T; t++ {
			for j := 0; j < C; j++ {
				q := t*C + j
				out[q] = xx[q] + (sx[q]-xx[q])*(tg.mu[j]+mf[q])
			}
		}
	}
	r, k, v, g, w, y := s.r[:T*A], s.k[:T*A], s.v[:T*A], s.g[:T*A], s.w[:T*A], s.y[:T*A]
	// w = exp(−exp(time_decay + W_d2·tanh(W_d1·x_w))), per channel and token.
	dd := l.decW1.Rows
	hd := s.lora[:T*dd]
	products(T, append(s.jobs[:0],
		kernels.MatVecJob{M: l.recept, X: s.xr, Y: r},
		kernels.MatVecJob{M: l.key, X: s.xk, Y: k},
		kernels.MatVecJob{M: l.value, X: s.xv, Y: v},
		kernels.MatVecJob{M: l.gate, X: s.xg, Y: g},
		kernels.MatVecJob{M: l.decW1, X: s.xw, Y: hd}))
	siluAll(g, s.act)
	tanhAll(hd)
	kernels.MatMul(l.decW2, hd, T, w)
	for t := 0; t < T; t++ {
		add(w[t*A:(t+1)*A], l.decay)
	}
	kernels.Exp(w, w)
	for i := range w {
		w[i] = -w[i]
	}
	kernels.Exp(w, w)
	S := st.wkv(i)
	kernels.WKV5Seq(T, c.Heads, c.HeadSize, r, k, v, w, l.first, S, y)
	m.groupNormRows(l, y, T)
	mul(y, g)
	kernels.MatMul(l.output, y, T, s.out[:T*C])
}

// products runs independent products Y = M·X for T tokens: in decode as
// one kernels.MatVecs batch (one hand-off to the workers), else one MatMul
// each. The results are the same either way.
func products(T int, jobs []kernels.MatVecJob) {
	if T == 1 {
		kernels.MatVecs(jobs)
		return
	}
	for _, j := range jobs {
		kernels.MatMul(j.M, j.X, T, j.Y)
	}
}

// timeMix7Products is the products of timeMix7 for T tokens in two
// batches: r, k, v and the LoRAs' first matrices, which all read the
// token-shifted inputs, then the LoRAs' second matrices (out = W2·act(W1·x)
// for the decay w, a, the gate g and, past layer 0, the v mix in tmp). In
// decode each batch is one hand-off to the workers (see products).
func (m *Model) timeMix7Products(l *layer, i, T int) {
	s := &m.sc
	n := T * s.loraN
	hw, ha, hg, hv := s.loraH[:T*l.w1.Rows], s.loraH[n:n+T*l.a1.Rows], s.loraH[2*n:2*n+T*l.g1.Rows], s.loraH[3*n:4*n]
	jobs := append(s.jobs[:0],
		kernels.MatVecJob{M: l.recept, X: s.xr, Y: s.r},
		kernels.MatVecJob{M: l.key, X: s.xk, Y: s.k},
		kernels.MatVecJob{M: l.value, X: s.xv, Y: s.v},
		kernels.MatVecJob{M: l.w1, X: s.xw, Y: hw},
		kernels.MatVecJob{M: l.a1, X: s.xa, Y: ha},
		kernels.MatVecJob{M: l.g1, X: s.xg, Y: hg})
	if i > 0 {
		hv = hv[:T*l.v1.Rows]
		jobs = append(jobs, kernels.MatVecJob{M: l.v1, X: s.xv, Y: hv})
	}
	products(T, jobs)
	tanhAll(hw)
	sigmoidAll(hg)
	jobs = append(s.jobs[:0],
		kernels.MatVecJob{M: l.w2, X: hw, Y: s.w},
		kernels.MatVecJob{M: l.a2, X: ha, Y: s.a},
		kernels.MatVecJob{M: l.g2, X: hg, Y: s.g})
	if i > 0 {
		jobs = append(jobs, kernels.MatVecJob{M: l.v2, X: hv, Y: s.tmp})
	}
	products(T, jobs)
}

func (m *Model) timeMix7(l *layer, i int, st *State, T int) {
	s := &m.sc
	c := &m.Cfg
	C, A, H, N := c.Embd, c.Att, c.Heads, c.HeadSize
	m.seq(stageMix7, l, i, T)
	m.timeMix7Products(l, i, T)
	y := s.y[:T*A]
	if T == 1 {
		// Decode: the gate, recurrence and output stages per head in one
		// hand-off, split by heads.
		m.stask = seqTask{m: m, l: l, i: i, stage: stageAtt7, st: st}
		parallelHeads(kernels.WKVWork(1, H, N), H, 1, &m.stask)
		m.stask = seqTask{}
	} else {
		m.seq(stageGate7, l, i, T)
		kernels.WKV7Seq(T, H, N, s.r[:T*A], s.w[:T*A], s.k[:T*A], s.v[:T*A], s.kk[:T*A], s.b[:T*A], st.wkv(i), y)
		m.seq(stageOut7, l, i, T)
	}
	kernels.MatMul(l.output, y, T, s.out[:T*C])
}

// parallelHeads splits att7's heads across the workers (a variable so that
// a test can split them where it likes).
var parallelHeads = kernels.ParallelFor

func (m *Model) channelMix(l *layer, T int) {
	s := &m.sc
	c := &m.Cfg
	C, F := c.Embd, c.FFN
	xx, sx := s.xx[:T*C], s.sx[:T*C]
	fk := s.fk[:T*F]
	out := s.out[:T*C]
	switch c.Major() {
	case 7:
		m.seq(stageFFN7, l, 0, T)
	case 6:
		lerp(s.xk[:T*C], xx, sx, l.fMixK)
		lerp(s.xr[:T*C], xx, sx, l.fMixR)
	default:
		mix(s.xk[:T*C], xx, sx, l.fMixK)
		mix(s.xr[:T*C], xx, sx, l.fMixR)
	}
	kernels.MatMul(l.fKey, s.xk, T, fk)
	kernels.ReluSq(fk)
	kernels.MatMul(l.fValue, fk, T, out)
	if l.fRecept != nil {
		r := s.lora2[:T*C]
		kernels.MatMul(l.fRecept, s.xr, T, r)
		sigmoidAll(r)
		mul(out, r)
	}
}
