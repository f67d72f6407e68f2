// Package kernels holds the arithmetic hot loops: matrix-vector and
// matrix-matrix products for every weight type, the WKV recurrences, and
// the norms. Each kernel has a generic Go twin; SIMD sets are chosen once
// at start from the CPU's features (see impls) and can be forced back to
// the generic set with RWKV_KERNELS=generic.
package kernels

import (
	"fmt"
	"os"
	"strings"
)

// Impl is one complete set of kernels. Fields are never nil: a set that has
// no special version of a kernel uses the generic one.
type Impl struct {
	Name string
	// Why says how this set was chosen (CPU features or an override).
	Why string

	// MatVec sets y[r] = Σ_c W[r][c]·x[c] for r in [lo, hi).
	MatVec func(m *Mat, x, y []float32, lo, hi int)
	// MatMul sets y[t*ystride+r] = Σ_c W[r][c]·x[t*Cols+c] for every t < T
	// and r in [lo, hi). scratch holds at least Cols floats.
	MatMul func(m *Mat, x []float32, T int, y []float32, ystride, lo, hi int, scratch []float32)
	// Dot is Σ a[i]·b[i] over len(a) elements.
	Dot func(a, b []float32) float32
	// WKV5 is one token of the v5/v6 recurrence for H heads of size N;
	// S is [h][key i][value j]. y[j] = Σ_i r_i(u_i k_i v_j + S_ij), then
	// S_ij ← k_i v_j + w_i S_ij. w and u have one entry per channel.
	WKV5 func(H, N int, r, k, v, w, u, S, y []float32)
	// WKV7 is one token of the v7 recurrence; S is [h][value i][key j].
	// sa_i = Σ_j S_ij·(−kk_j); S_ij ← S_ij·dec_j + sa_i·b_j + v_i·k_j;
	// y_i = Σ_j S_ij·r_j (new S). b = kk ⊙ a.
	WKV7 func(H, N int, r, dec, k, v, kk, b, S, y []float32)
}

var (
	impls  []*Impl // the sets this CPU can run, best first; generic last
	active *Impl
)

func init() {
	impls = append(platformImpls(), genericImpl())
	active = impls[0]
	if v := os.Getenv("RWKV_KERNELS"); v != "" {
		if err := Use(v); err == nil {
			active.Why = "forced by RWKV_KERNELS=" + v
		}
	}
}

// Use selects a kernel set by name ("generic", "avx2", "neon", or "auto").
func Use(name string) error {
	if name == "" || name == "auto" {
		active = impls[0]
		return nil
	}
	for _, im := range impls {
		if strings.EqualFold(im.Name, name) {
			active = im
			return nil
		}
	}
	return fmt.Errorf("kernel set %q is not available on this CPU (have %s)", name, strings.Join(Names(), ", "))
}

// Names lists the kernel sets this CPU can run, best first.
func Names() []string {
	out := make([]string, len(impls))
	for i, im := range impls {
		out[i] = im.Name
	}
	return out
}

// Active is the set in use.
func Active() *Impl { return active }

// Get returns the set with the given name, or nil.
func Get(name string) *Impl {
	for _, im := range impls {
		if strings.EqualFold(im.Name, name) {
			return im
		}
	}
	return nil
}

// Generic returns the portable set, the reference for the others.
func Generic() *Impl { return impls[len(impls)-1] }
