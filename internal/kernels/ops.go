package kernels

import (
	"math"
	"sync/atomic"
)

// The operations the model calls. Products run on the default pool, split by
// output rows; everything else runs on the caller.

type matMulTask struct {
	im      *Impl
	p       *Pool
	m       *Mat
	x, y    []float32
	T, ystr int
	qa      *qActs // quantized activations (integer path), or nil
}

func (t *matMulTask) Run(w, lo, hi int) {
	if t.qa != nil {
		t.im.MatMulQ(t.m, t.qa, t.y, t.ystr, lo, hi, t.p.ByteScratch(w, qScratchBytes(t.m.Cols)))
		return
	}
	t.im.MatMul(t.m, t.x, t.T, t.y, t.ystr, lo, hi, t.p.Scratch(w, 4*t.m.Cols))
}

// quantTask quantizes the activations of a product, split by token octets.
type quantTask struct {
	im *Impl
	qa *qActs
	x  []float32
}

func (t *quantTask) Run(_, lo, hi int) { t.im.QuantizeActs(t.qa, t.x, lo, hi) }

// rowAlign keeps each worker's rows a multiple of 4 so that results are the
// same for any thread count (kernels may handle rows in groups).
const rowAlign = 4

// MatVec sets y = W·x (len(x) = Cols, len(y) = Rows): a batch of one.
func (p *Pool) MatVec(m *Mat, x, y []float32) {
	p.mu.Lock()
	p.one[0] = MatVecJob{M: m, X: x, Y: y}
	p.matVecs(p.one[:])
	p.one[0] = MatVecJob{}
	p.mu.Unlock()
}

// MatVecJob is one product of MatVecs: Y = M·X.
type MatVecJob struct {
	M    *Mat
	X, Y []float32
}

// maxBatch is the most products one MatVecs call takes.
const maxBatch = 8

// batchTask runs a batch's products over their concatenated rows, split
// among the workers by weight, not by row count: a batch mixes rows of
// very different sizes (v7's LoRA matrices are F16 next to Q4_0
// projections, or 64 columns wide), and an even split by rows left one
// worker up to a third more bytes to read while the other waited. Each job
// is cut in groups of four rows (quads), so a worker's share of a job
// starts at a multiple of four rows, as in a single MatVec, and no result
// depends on the number of workers.
type batchTask struct {
	im    *Impl
	n     int
	jobs  [maxBatch]MatVecJob // X and Y cut to the matrix's size
	start [maxBatch + 1]int   // the job's first unit of weight
	quad  [maxBatch]int       // units of weight per quad of the job
	qv    [maxBatch]*qVec     // quantized X, or nil for the float path
}

// quadUnits weighs four rows of m: their bytes in cache lines, plus two
// for the call that reads them (a narrow LoRA row is mostly call).
func quadUnits(m *Mat) int { return (rowAlign*m.RowBytes+63)/64 + 2 }

// rowAt is the first row of job j in a range that starts at unit u: the
// first row of the first quad that starts at or after u.
func (t *batchTask) rowAt(j, u int) int {
	d := u - t.start[j]
	if d <= 0 {
		return 0
	}
	q := (d + t.quad[j] - 1) / t.quad[j]
	return min(rowAlign*q, t.jobs[j].M.Rows)
}

// sharedQ returns an earlier job's quantized activations when job j reads
// the same x (v7's value and v1 both read x_v), else nil.
func (t *batchTask) sharedQ(j int) *qVec {
	x := t.jobs[j].X
	for k := 0; k < j; k++ {
		if xk := t.jobs[k].X; t.qv[k] != nil && len(xk) == len(x) && &xk[0] == &x[0] {
			return t.qv[k]
		}
	}
	return nil
}

func (t *batchTask) Run(_, lo, hi int) {
	for j, jb := range t.jobs[:t.n] {
		a, b := t.rowAt(j, lo), t.rowAt(j, hi)
		if a >= b {
			continue
		}
		if t.qv[j] != nil {
			t.im.MatVecQ(jb.M, t.qv[j], jb.Y, a, b)
		} else {
			t.im.MatVec(jb.M, jb.X, jb.Y, a, b)
		}
	}
}

// MatVecs runs independent products (at most 8) on the default pool in one
// hand-off: decode issues many small products per layer, and a batch pays
// one wake-up and one barrier for all of them, and splits the small ones
// (LoRA matrices) across the workers too. Each result equals MatVec's.
func MatVecs(jobs []MatVecJob) { Default().MatVecs(jobs) }

// MatVecs is the package-level MatVecs on p.
func (p *Pool) MatVecs(jobs []MatVecJob) {
	if len(jobs) > maxBatch {
		panic("kernels: MatVecs takes at most 8 products")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.matVecs(jobs)
}

// matVecs runs a batch with the active set; p.mu is held. Each x is
// quantized once, on the caller, before the rows are split.
func (p *Pool) matVecs(jobs []MatVecJob) {
	im := active
	t := &p.bt
	t.im, t.n = im, len(jobs)
	work, n := 0, 0
	for j, jb := range jobs {
		m := jb.M
		x := jb.X[:m.Cols]
		t.jobs[j] = MatVecJob{M: m, X: x, Y: jb.Y[:m.Rows]}
		t.qv[j] = nil
		if im.decodesInt(m) {
			t.qv[j] = t.sharedQ(j)
			if t.qv[j] == nil {
				q := &p.qvs[j]
				q.reset(m.Cols)
				im.QuantizeVec(q, x)
				t.qv[j] = q
			}
		}
		t.start[j] = n
		t.quad[j] = quadUnits(m)
		n += (m.Rows + rowAlign - 1) / rowAlign * t.quad[j]
		work += m.Rows * m.Cols
	}
	t.start[len(jobs)] = n
	p.parallelFor(work, n, 1, t)
	*t = batchTask{}
}

// MatMul sets Y = X·Wᵀ for T rows of X (T×Cols) into Y (T×Rows).
func (p *Pool) MatMul(m *Mat, x []float32, T int, y []float32) {
	if T == 1 {
		p.MatVec(m, x, y)
		return
	}
	p.mu.Lock()
	p.matMul(active, m, x, T, y)
	p.mu.Unlock()
}

// matMul runs im's product on the pool; p.mu is held.
func (p *Pool) matMul(im *Impl, m *Mat, x []float32, T int, y []float32) {
	x = x[:T*m.Cols]
	p.mm = matMulTask{im: im, p: p, m: m, x: x, y: y[:T*m.Rows], T: T, ystr: m.Rows}
	if intPath(m.DType) && integerPrefill.Load() {
		// Quantize the activations once, before the rows are split.
		p.qa.reset(T, m.Cols)
		p.qt = quantTask{im: im, qa: &p.qa, x: x}
		p.parallelFor(T*m.Cols, p.qa.no, 1, &p.qt)
		p.qt = quantTask{}
		p.mm.qa = &p.qa
	}
	p.parallelFor(T*m.Rows*m.Cols, m.Rows, rowAlign, &p.mm)
	p.mm = matMulTask{}
}

// smallWork is the number of multiply-adds below which a product runs on
// the caller alone (tiny models, LoRA matrices): a hand-off costs more.
const smallWork = 1 << 18

// parallelFor is parallel for a job of work multiply-adds.
func (p *Pool) parallelFor(work, total, align int, t Task) {
	if work < smallWork {
		t.Run(0, 0, total)
		return
	}
	p.parallel(total, align, t)
}

// integerPrefill selects the integer path for quantized weights in MatMul.
var integerPrefill = func() *atomic.Bool { var b atomic.Bool; b.Store(true); return &b }()

// SetIntegerPrefill chooses how MatMul (T > 1) multiplies block-quantized
// weights (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1). On (the default), the activations
// are quantized to 8 bits per block of 32 and multiplied in integer
// arithmetic, as ggml does: fast, with ggml-like activation rounding, so a
// prefill differs slightly from token-by-token decoding (MatVec keeps
// float activations). Off, the weights are dequantized to float32 and the
// float kernels run: the results match MatVec to float rounding.
func SetIntegerPrefill(on bool) { integerPrefill.Store(on) }

// IntegerPrefill reports the current choice of SetIntegerPrefill.
func IntegerPrefill() bool { return integerPrefill.Load() }

// MatVec runs on the default pool.
func MatVec(m *Mat, x, y []float32) { Default().MatVec(m, x, y) }

// MatMul runs on the default pool.
func MatMul(m *Mat, x []float32, T int, y []float32) { Default().MatMul(m, x, T, y) }

// Dot is Σ a[i]·b[i].
func Dot(a, b []float32) float32 { return active.Dot(a, b[:len(a)]) }

// wkvTask runs the WKV recurrence of T tokens for a range of heads: the
// heads' states are independent, so workers split them, and each head
// still takes the tokens in order.
type wkvTask struct {
	im        *Impl
	v7        bool
	T, H, N   int
	wStride   int // elements between tokens' w (v5: 0, one decay for all)
	r, dec, k []float32
	v, kk, b  []float32
	u, S, y   []float32
}

func (t *wkvTask) Run(_, lo, hi int) {
	A, N := t.H*t.N, t.N
	hs, he := lo*N, hi*N
	S := t.S[lo*N*N : hi*N*N]
	for tt := 0; tt < t.T; tt++ {
		o := tt * A
		if t.v7 {
			t.im.WKV7(hi-lo, N, t.r[o+hs:o+he], t.dec[o+hs:o+he], t.k[o+hs:o+he], t.v[o+hs:o+he],
				t.kk[o+hs:o+he], t.b[o+hs:o+he], S, t.y[o+hs:o+he])
			continue
		}
		w := tt * t.wStride
		t.im.WKV5(hi-lo, N, t.r[o+hs:o+he], t.k[o+hs:o+he], t.v[o+hs:o+he], t.dec[w+hs:w+he], t.u[hs:he], S, t.y[o+hs:o+he])
	}
}

// WKVWork weighs a recurrence of T tokens over H heads of size N as
// ParallelFor counts work: every state element is loaded, updated and
// stored per token, so one token of a 0.4B model's layer (16 heads of
// 64×64) is worth splitting across workers.
func WKVWork(T, H, N int) int { return 4 * T * H * N * N }

// WKV5Seq runs the v5/v6 recurrence for T tokens (r, k, v, y: T×H·N) on
// the default pool, heads split across workers. w has one row per token
// (v6) or a single row for all (v5: len(w) == H·N).
func WKV5Seq(T, H, N int, r, k, v, w, u, S, y []float32) {
	ws := 0
	if len(w) > H*N {
		ws = H * N
	}
	Default().wkv(wkvTask{T: T, H: H, N: N, wStride: ws, r: r, dec: w, k: k, v: v, u: u, S: S, y: y})
}

// WKV7Seq runs the v7 recurrence for T tokens (every vector T×H·N) on the
// default pool, heads split across workers.
func WKV7Seq(T, H, N int, r, dec, k, v, kk, b, S, y []float32) {
	Default().wkv(wkvTask{v7: true, T: T, H: H, N: N, r: r, dec: dec, k: k, v: v, kk: kk, b: b, S: S, y: y})
}

// ParallelFor runs t over [0, total) on the default pool, split in
// multiples of align, or on the caller alone when work (in multiply-adds,
// or loads and stores) is too small to be worth a hand-off.
func ParallelFor(work, total, align int, t Task) {
	p := Default()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.parallelFor(work, total, align, t)
}

// wkv runs t with the active set, heads split across the workers.
func (p *Pool) wkv(t wkvTask) {
	p.mu.Lock()
	t.im = active
	p.wk = t
	p.parallelFor(WKVWork(t.T, t.H, t.N), t.H, 1, &p.wk)
	p.wk = wkvTask{}
	p.mu.Unlock()
}

// WKV5 runs the active set's v5/v6 recurrence for one token.
func WKV5(H, N int, r, k, v, w, u, S, y []float32) { active.WKV5(H, N, r, k, v, w, u, S, y) }

// WKV7 runs the active set's v7 recurrence for one token.
func WKV7(H, N int, r, dec, k, v, kk, b, S, y []float32) {
	active.WKV7(H, N, r, dec, k, v, kk, b, S, y)
}

// LayerNorm sets out = (x−μ)/sqrt(var+eps)·w + b (biased variance) with
// the active set. out may alias x.
func LayerNorm(out, x, w, b []float32, eps float32) { active.LayerNorm(out, x, w, b, eps) }

// Lerp sets out[i] = a[i] + (b[i]−a[i])·mu[i] with the active set.
func Lerp(out, a, b, mu []float32) { active.Lerp(out, a, b, mu) }

func lerpGeneric(out, a, b, mu []float32) {
	n := len(mu)
	out, a, b = out[:n], a[:n], b[:n]
	for i, u := range mu {
		out[i] = a[i] + (b[i]-a[i])*u
	}
}

func layerNormGeneric(out, x, w, b []float32, eps float32) {
	n := len(x)
	var mean float32
	for _, v := range x {
		mean += v
	}
	mean /= float32(n)
	var vr float32
	for _, v := range x {
		d := v - mean
		vr += d * d
	}
	vr /= float32(n)
	inv := float32(1 / math.Sqrt(float64(vr+eps)))
	for i, v := range x {
		out[i] = (v-mean)*inv*w[i] + b[i]
	}
}

// GroupNorm normalises each of the len(x)/N groups of N channels, then
// applies the per-channel affine w, b: a LayerNorm per group. out may
// alias x.
func GroupNorm(out, x []float32, N int, w, b []float32, eps float32) {
	for h := 0; h+N <= len(x); h += N {
		active.LayerNorm(out[h:h+N], x[h:h+N], w[h:h+N], b[h:h+N], eps)
	}
}

// WKV4 is one token of the v4 recurrence in its max-subtracted form (spec
// §3.1): it writes wkv and updates aa, bb, pp in place. w = −exp(decay),
// u = time_first.
func WKV4(k, v, w, u, aa, bb, pp, wkv []float32) {
	for i := range k {
		ww := u[i] + k[i]
		p := max32(pp[i], ww)
		e1 := exp32(pp[i] - p)
		e2 := exp32(ww - p)
		wkv[i] = (e1*aa[i] + e2*v[i]) / (e1*bb[i] + e2)
		ww = w[i] + pp[i]
		p = max32(ww, k[i])
		e1 = exp32(ww - p)
		e2 = exp32(k[i] - p)
		aa[i] = e1*aa[i] + e2*v[i]
		bb[i] = e1*bb[i] + e2
		pp[i] = p
	}
}

func max32(a, b float32) float32 {
	if a > b {
		return a
	}
	return b
}

func exp32(x float32) float32 { return float32(math.Exp(float64(x))) }
