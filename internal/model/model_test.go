package model

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/kernels"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
)

// eachKernelSet runs f once per kernel set this CPU has.
func eachKernelSet(t *testing.T, f func(t *testing.T)) {
	for _, name := range kernels.Names() {
		t.Run(name, func(t *testing.T) {
			if err := kernels.Use(name); err != nil {
				t.Fatal(err)
			}
			defer kernels.Use("auto")
			f(t)
		})
	}
}

func open(t testing.TB, path string, opt Options) *Model {
	t.Helper()
	m, err := Open(path, opt)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// feed runs tokens through a fresh state with the given chunk size and
// returns the logits after the last token and the final state.
func feed(t *testing.T, m *Model, tokens []int, chunk int) ([]float32, *State) {
	t.Helper()
	m.Chunk = chunk
	st := m.NewState()
	logits := make([]float32, m.Cfg.Vocab)
	if err := m.Forward(st, tokens, logits); err != nil {
		t.Fatal(err)
	}
	return logits, st
}

func diff(a, b []float32) (maxAbs, sum float64) {
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		sum += d
		maxAbs = math.Max(maxAbs, math.Abs(d))
	}
	return
}

// quantTable is spec §14.1's independent float64 result for the shipped
// quantized files: max|Δ| and ΣΔ against expected-logits.
var quantTable = map[string][2]float64{
	"4v0-660K-Q5_0": {1.2e-1, -0.168436}, "4v0-660K-Q5_1": {9.6e-2, 0.223232},
	"5v1-730K-Q5_0": {1.74, -158.87}, "5v1-730K-Q5_1": {0.28, -15.29},
	"5v2-730K-Q5_0": {0.51, 23.53}, "5v2-730K-Q5_1": {0.37, 45.29},
	"6v0-1m-Q5_0": {0.12, -3.7025}, "6v0-1m-Q5_1": {0.12, -17.5145},
	"6v0-3m-Q5_0": {0.16, -23.1618}, "6v0-3m-Q5_1": {0.076, -0.5804},
	"7v0-834K-Q5_0": {3.7e-3, -0.075295}, "7v0-834K-Q5_1": {4.2e-3, -0.073277},
}

// fp16SumRule is rwkv.cpp's signed-sum reference for its FP16 files.
var fp16SumRule = map[string]float64{
	"4v0-660K": -0.013652, "5v1-730K": -0.289921, "5v2-730K": 0.455912, "6v0-1m": -0.416620, "7v0-834K": 0.005766,
}

// TestTinyExpectedLogits: spec §14.1 — every rwkv.cpp tiny model, serial and
// sequence, after `"in`.
func TestTinyExpectedLogits(t *testing.T) {
	dir := testutil.Path(t, "models", "tiny")
	files, _ := filepath.Glob(filepath.Join(dir, "tiny-rwkv-*.bin"))
	if len(files) == 0 {
		t.Skip("no tiny models")
	}
	eachKernelSet(t, func(t *testing.T) {
		for _, f := range files {
			base := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "tiny-rwkv-"), ".bin")
			i := strings.LastIndexByte(base, '-')
			name, typ := base[:i], base[i+1:]
			t.Run(base, func(t *testing.T) {
				opt := Options{}
				if strings.HasPrefix(name, "5") {
					opt.GroupNormEps = 1e-5 // rwkv.cpp's v5 graph (spec §15)
				}
				m := open(t, f, opt)
				want := testutil.Float32s(t, filepath.Join(dir, "expected-logits-"+name+".bin"))
				// Two modes: "exact" dequantizes quantized weights exactly
				// (spec §14.1's figures); "integer" (the default) quantizes
				// activations to 8 bits per block as ggml does, in decode
				// and prefill alike.
				var exact []float32
				for _, integer := range []bool{false, true} {
					kernels.SetIntegerPrefill(integer)
					kernels.SetIntegerDecode(integer)
					var serial []float32
					for _, chunk := range []int{1, 7, 64} {
						got, _ := feed(t, m, []int{34, 105, 110}, chunk)
						maxd, sum := diff(got, want)
						switch typ {
						case "FP32":
							if maxd > 1e-4 || math.Abs(sum) > 1.05*0.001 {
								t.Errorf("chunk %d: max|Δ| %.3g ΣΔ %.3g, want ≤ 1e-4 and |ΣΔ| ≤ 0.00105", chunk, maxd, sum)
							}
						case "FP16":
							ref := fp16SumRule[name]
							if maxd > 1e-2 || math.Abs(sum) > 1.05*math.Abs(ref) {
								t.Errorf("chunk %d: max|Δ| %.3g ΣΔ %.4g, want ≤ 1e-2 and |ΣΔ| ≤ 1.05·%.4g", chunk, maxd, sum, math.Abs(ref))
							}
						default:
							q, ok := quantTable[base]
							if !ok {
								t.Fatalf("no reference figures for %s", base)
							}
							if !integer && (math.Abs(maxd-q[0]) > 0.01 || math.Abs(sum-q[1]) > 0.01) {
								t.Errorf("exact, chunk %d: max|Δ| %.4g ΣΔ %.4f, want %.4g and %.4f (±0.01)", chunk, maxd, sum, q[0], q[1])
							}
							if integer {
								t.Logf("integer, chunk %d: max|Δ| %.4g ΣΔ %.4f (exact: %.4g, %.4f)", chunk, maxd, sum, q[0], q[1])
							}
						}
						if serial == nil {
							serial = got
							continue
						}
						// Sequence mode runs the same arithmetic as the
						// serial step in other orders. With 8-bit
						// activations a rounding-level difference in x can
						// move a code by one, which the later layers carry:
						// measured ≤ 0.025 on these files.
						tol := 1e-5
						if integer && typ != "FP32" && typ != "FP16" {
							tol = 0.05
							if kernels.Active().MatVecQ == nil {
								// This set decodes with float activations
								// (NEON): serial is the exact result.
								tol = 0.15
							}
						}
						if d, _ := diff(got, serial); d > tol {
							t.Errorf("integer %v: chunk %d vs serial max|Δ| %.3g > %g", integer, chunk, d, tol)
						}
					}
					if exact == nil {
						exact = serial
						continue
					}
					// 8-bit activations move the logits by little; measured
					// ≤ 0.096 on these files.
					if d, _ := diff(serial, exact); d > 0.15 {
						t.Errorf("integer vs exact max|Δ| %.3g > 0.15", d)
					} else {
						t.Logf("integer vs exact max|Δ| %.3g", d)
					}
				}
				kernels.SetIntegerPrefill(true)
				kernels.SetIntegerDecode(true)
			})
		}
	})
}

var fixtureModels = []string{"4v0-660K", "5v1-730K", "5v2-730K", "6v0-1m", "7v0-834K"}

func readFile(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func bytesToTokens(b []byte) []int {
	out := make([]int, len(b))
	for i, c := range b {
		out[i] = int(c)
	}
	return out
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// checkFixture compares per-position logits, final state and the greedy
// continuation with the reference's outputs.
func checkFixture(t *testing.T, m *Model, dir string, logitTol, stateAbs, stateRel float64, greedy bool, chunk int) {
	t.Helper()
	prompt := bytesToTokens(readFile(t, filepath.Join(dir, "prompt.bin")))
	want := testutil.Float32s(t, filepath.Join(dir, "logits.bin"))
	V := m.Cfg.Vocab
	m.Chunk = chunk
	st := m.NewState()
	got := make([]float32, len(prompt)*V)
	if err := m.ForwardAll(st, prompt, got); err != nil {
		t.Fatal(err)
	}
	if d, _ := diff(got, want); d > logitTol {
		t.Errorf("chunk %d: per-position logits max|Δ| %.3g > %.3g", chunk, d, logitTol)
	}
	if stateAbs > 0 {
		ws := testutil.Float32s(t, filepath.Join(dir, "state.bin"))
		if len(ws) != len(st.Data) {
			t.Fatalf("state has %d floats, reference %d", len(st.Data), len(ws))
		}
		bad := 0
		for i, w := range ws {
			g := st.Data[i]
			if m.Cfg.Major() == 4 {
				g, w = v4Comparable(m, st, ws, i)
			}
			if math.Abs(float64(g-w)) > stateAbs+stateRel*math.Abs(float64(w)) {
				if bad < 3 {
					t.Errorf("chunk %d: state[%d] = %g, reference %g", chunk, i, g, w)
				}
				bad++
			}
		}
		if bad > 0 {
			t.Errorf("chunk %d: %d state values out of tolerance", chunk, bad)
		}
	}
	if greedy {
		wantG := readFile(t, filepath.Join(dir, "greedy.bin"))
		logits := got[(len(prompt)-1)*V:]
		out := make([]byte, 0, len(wantG))
		buf := make([]float32, V)
		for k := 0; k < len(wantG); k++ {
			tok := argmax(logits)
			out = append(out, byte(tok))
			if k == len(wantG)-1 {
				break
			}
			if err := m.Forward(st, []int{tok}, buf); err != nil {
				t.Fatal(err)
			}
			logits = buf
		}
		if string(out) != string(wantG) {
			t.Errorf("greedy continuation %q, want %q", out, wantG)
		}
	}
}

// v4Comparable: aa, bb and pp are a scaled pair (spec fixtures README); we
// compare aa·e^pp and bb·e^pp relative to the same scale instead of raw
// values where pp differs. Here both sides use the same max-subtracted
// form, so raw comparison applies; kept as a hook for clarity.
func v4Comparable(m *Model, st *State, ws []float32, i int) (float32, float32) {
	return st.Data[i], ws[i]
}

func TestFixtures(t *testing.T) {
	root := testutil.Root(t)
	eachKernelSet(t, func(t *testing.T) {
		for _, name := range fixtureModels {
			dir := filepath.Join(root, "fixtures", name)
			sources := map[string]string{
				"bin":         filepath.Join(root, "models", "tiny", "tiny-rwkv-"+name+"-FP32.bin"),
				"pth":         filepath.Join(dir, "tiny-rwkv-"+name+"-fp32.pth"),
				"safetensors": filepath.Join(dir, "tiny-rwkv-"+name+"-fp32.safetensors"),
			}
			for kind, path := range sources {
				t.Run(name+"/"+kind, func(t *testing.T) {
					m := open(t, path, Options{})
					chunks := []int{1, 7, 64}
					if testing.Short() {
						chunks = []int{64}
					}
					for _, chunk := range chunks {
						checkFixture(t, m, dir, 2e-4, 1e-4, 1e-5, chunk == 64, chunk)
					}
				})
			}
			for _, kind := range []string{"pth", "safetensors"} {
				t.Run(name+"/bf16-"+kind, func(t *testing.T) {
					m := open(t, filepath.Join(dir, "tiny-rwkv-"+name+"-bf16."+kind), Options{})
					tol := 0.5
					if name[0] == '6' || name[0] == '7' {
						tol = 2e-4 // lossless: the weights were bf16 to begin with
					}
					checkFixture(t, m, dir, tol, 0, 0, false, 64)
				})
			}
		}
	})
}

// TestRwkvcppQuantized compares our logits for rwkv.cpp's FP16/Q5 files
// with rwkv.cpp's own (fixtures README: loose checks, since ggml also
// quantizes the activations).
func TestRwkvcppQuantized(t *testing.T) {
	root := testutil.Root(t)
	for _, name := range fixtureModels {
		for _, typ := range []string{"FP16", "Q5_0", "Q5_1"} {
			t.Run(name+"-"+typ, func(t *testing.T) {
				opt := Options{}
				if name[0] == '5' {
					opt.GroupNormEps = 1e-5
				}
				m := open(t, filepath.Join(root, "models", "tiny", "tiny-rwkv-"+name+"-"+typ+".bin"), opt)
				dir := filepath.Join(root, "fixtures", name)
				prompt := bytesToTokens(readFile(t, filepath.Join(dir, "prompt.bin")))
				want := testutil.Float32s(t, filepath.Join(dir, "rwkvcpp", "logits-"+typ+".bin"))
				V := m.Cfg.Vocab
				got := make([]float32, len(prompt)*V)
				if err := m.ForwardAll(m.NewState(), prompt, got); err != nil {
					t.Fatal(err)
				}
				var sumAbs float64
				agree := 0
				for p := range prompt {
					g, w := got[p*V:(p+1)*V], want[p*V:(p+1)*V]
					for i := range g {
						sumAbs += math.Abs(float64(g[i] - w[i]))
					}
					if argmax(g) == argmax(w) {
						agree++
					}
				}
				mean := sumAbs / float64(len(got))
				top1 := float64(agree) / float64(len(prompt))
				t.Logf("mean|Δ| %.4f top-1 agreement %.1f%%", mean, 100*top1)
				// Measured: FP16 ≤ 0.0011 / ≥ 99.5 %, Q5 ≤ 0.021 / ≥ 97 %.
				limit, minTop1 := 0.1, 0.9
				if typ == "FP16" {
					limit, minTop1 = 0.005, 0.97
				}
				if mean > limit || top1 < minTop1 {
					t.Errorf("mean|Δ| %.4f (≤ %g) top-1 %.1f%% (≥ %.0f%%)", mean, limit, 100*top1, 100*minTop1)
				}
			})
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	m := open(t, testutil.Path(t, "models", "tiny", "tiny-rwkv-7v0-834K-FP32.bin"), Options{})
	_, st := feed(t, m, []int{1, 2, 3}, 64)
	b, err := st.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	st2 := m.NewState()
	if err := st2.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	for i := range st.Data {
		if math.Float32bits(st.Data[i]) != math.Float32bits(st2.Data[i]) {
			t.Fatalf("state[%d] differs after round trip", i)
		}
	}
	for cut := 0; cut < len(b); cut += 97 {
		if err := m.NewState().UnmarshalBinary(b[:cut]); err == nil {
			t.Fatalf("state cut at %d accepted", cut)
		}
	}
	other := open(t, testutil.Path(t, "models", "tiny", "tiny-rwkv-6v0-1m-FP32.bin"), Options{})
	if err := other.NewState().UnmarshalBinary(b); err == nil || !strings.Contains(err.Error(), "RWKV-7") {
		t.Fatalf("state of another model: err = %v", err)
	}
	c := st.Clone()
	c.Reset()
	if fmt.Sprint(c.Data[:4]) == fmt.Sprint(st.Data[:4]) && st.Data[0] != 0 {
		t.Fatal("Clone shares data")
	}
}

func TestForwardAllocs(t *testing.T) {
	m := open(t, testutil.Path(t, "models", "tiny", "tiny-rwkv-7v0-834K-FP32.bin"), Options{})
	st := m.NewState()
	logits := make([]float32, m.Cfg.Vocab)
	tok := []int{65}
	_ = m.Forward(st, tok, logits)
	if n := testing.AllocsPerRun(20, func() { _ = m.Forward(st, tok, logits) }); n != 0 {
		t.Errorf("Forward allocates %.1f times per token", n)
	}
}

// TestDominantType: a file is "in" the type of its main projections, though
// rwkv.cpp keeps the embedding, the head and the LoRAs (more bytes in these
// tiny models) in a float type.
func TestDominantType(t *testing.T) {
	for name, want := range map[string]tensor.DType{"Q5_1": tensor.Q5_1, "Q5_0": tensor.Q5_0, "FP16": tensor.F16, "FP32": tensor.F32} {
		m := open(t, testutil.Path(t, "models", "tiny", "tiny-rwkv-7v0-834K-"+name+".bin"), Options{})
		if got := m.DominantType(); got != want {
			t.Errorf("%s: DominantType %v, want %v", name, got, want)
		}
	}
}
