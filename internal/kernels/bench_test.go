package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// withSet runs f with the named set active.
func withSet(name string, f func()) {
	prev := Active()
	if err := Use(name); err != nil {
		panic(err)
	}
	defer func() { active = prev }()
	f()
}

// benchMats returns enough copies of a rows×cols matrix that together they
// are well past the last-level cache, so a benchmark that cycles through
// them reads memory, as decoding a real model does.
func benchMats(b testing.TB, dt tensor.DType, rows, cols int) []*Mat {
	rng := rand.New(rand.NewPCG(9, uint64(dt)))
	data := randWeights(rng, dt, rows, cols)
	n := 1 + (256<<20)/len(data)
	ms := make([]*Mat, n)
	for i := range ms {
		d := make([]byte, len(data))
		copy(d, data)
		m, err := NewMat(dt, rows, cols, d)
		if err != nil {
			b.Fatal(err)
		}
		ms[i] = m
	}
	return ms
}

var allTypes = []tensor.DType{tensor.F32, tensor.F16, tensor.BF16, tensor.Q8_0, tensor.Q4_0, tensor.Q4_1, tensor.Q5_0, tensor.Q5_1}

func BenchmarkMatVec(b *testing.B) {
	for _, shape := range [][2]int{{2048, 2048}, {8192, 2048}} {
		for _, dt := range allTypes {
			ms := benchMats(b, dt, shape[0], shape[1])
			x := randVec(rand.New(rand.NewPCG(1, 1)), shape[1])
			y := make([]float32, shape[0])
			for _, set := range Names() {
				// Quantized types run with 8-bit activations (the default)
				// and with float activations ("/floatx").
				for _, integer := range []bool{true, false} {
					name := fmt.Sprintf("%s/%s/%dx%d", set, dt, shape[0], shape[1])
					if !integer {
						if !intPath(dt) {
							continue
						}
						name += "/floatx"
					}
					b.Run(name, func(b *testing.B) {
						withSet(set, func() {
							prev := IntegerDecode()
							SetIntegerDecode(integer)
							defer SetIntegerDecode(prev)
							p := Default()
							b.SetBytes(int64(ms[0].Bytes()))
							b.ResetTimer()
							for i := 0; i < b.N; i++ {
								p.MatVec(ms[i%len(ms)], x, y)
							}
						})
					})
				}
			}
		}
	}
}

func BenchmarkMatMul(b *testing.B) {
	rows, cols := 2048, 2048
	for _, dt := range allTypes {
		rng := rand.New(rand.NewPCG(10, uint64(dt)))
		m, err := NewMat(dt, rows, cols, randWeights(rng, dt, rows, cols))
		if err != nil {
			b.Fatal(err)
		}
		for _, T := range []int{64, 512} {
			x := randVec(rng, T*cols)
			y := make([]float32, T*rows)
			for _, set := range Names() {
				b.Run(fmt.Sprintf("%s/%s/T=%d", set, dt, T), func(b *testing.B) {
					withSet(set, func() {
						p := Default()
						b.SetBytes(int64(m.Bytes()))
						b.ResetTimer()
						for i := 0; i < b.N; i++ {
							p.MatMul(m, x, T, y)
						}
						b.ReportMetric(2*float64(rows*cols*T)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					})
				})
			}
		}
	}
}

func BenchmarkWKV(b *testing.B) {
	for _, shape := range [][2]int{{32, 64}, {12, 64}} { // 2048 and 768 channels
		H, N := shape[0], shape[1]
		c := newWKVCase(rand.New(rand.NewPCG(1, 2)), H, N)
		y := make([]float32, H*N)
		for _, set := range Names() {
			im := Get(set)
			b.Run(fmt.Sprintf("%s/v5/H%dN%d", set, H, N), func(b *testing.B) {
				b.SetBytes(int64(4 * len(c.S)))
				for i := 0; i < b.N; i++ {
					im.WKV5(H, N, c.r, c.k, c.v, c.w, c.u, c.S, y)
				}
			})
			b.Run(fmt.Sprintf("%s/v7/H%dN%d", set, H, N), func(b *testing.B) {
				b.SetBytes(int64(4 * len(c.S)))
				for i := 0; i < b.N; i++ {
					im.WKV7(H, N, c.r, c.dec, c.k, c.v, c.kk, c.b, c.S, y)
				}
			})
		}
	}
}

func BenchmarkActivations(b *testing.B) {
	x := randVec(rand.New(rand.NewPCG(3, 4)), 4096)
	out := make([]float32, len(x))
	for _, set := range Names() {
		im := Get(set)
		b.Run(set+"/Exp", func(b *testing.B) {
			b.SetBytes(4 * int64(len(x)))
			for i := 0; i < b.N; i++ {
				im.Exp(out, x)
			}
		})
		b.Run(set+"/Sigmoid", func(b *testing.B) {
			b.SetBytes(4 * int64(len(x)))
			for i := 0; i < b.N; i++ {
				im.Sigmoid(out, x)
			}
		})
	}
}
