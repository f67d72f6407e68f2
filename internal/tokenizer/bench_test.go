package tokenizer

import "testing"

// The benchmarks encode every LAMBADA text (one Encode call per line, as the
// reference figures in fixtures/tokenizer/README.md were measured).

func benchEncode(b *testing.B, tok Tokenizer) {
	texts := lambadaText(b)
	total := 0
	for _, t := range texts {
		total += len(t)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	b.ResetTimer()
	ntok := 0
	for i := 0; i < b.N; i++ {
		ntok = 0
		for _, t := range texts {
			ntok += len(tok.Encode(t))
		}
	}
	b.ReportMetric(float64(ntok)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

func BenchmarkWorldEncode(b *testing.B) { benchEncode(b, loadWorld(b)) }
func BenchmarkNeoXEncode(b *testing.B)  { benchEncode(b, loadNeoX(b)) }

// BenchmarkNeoXEncodeCold empties the piece cache before each pass over the
// file, so repeated words are only cached within a pass.
func BenchmarkNeoXEncodeCold(b *testing.B) {
	x := loadNeoX(b)
	texts := lambadaText(b)
	total := 0
	for _, t := range texts {
		total += len(t)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sc := x.pool.Get().(*neoxScratch)
		clear(sc.cache)
		sc.arena = sc.arena[:0]
		x.pool.Put(sc)
		for _, t := range texts {
			x.Encode(t)
		}
	}
}

// BenchmarkNeoXEncodeNoCache encodes with an empty cache for every line.
func BenchmarkNeoXEncodeNoCache(b *testing.B) {
	x := loadNeoX(b)
	texts := lambadaText(b)
	total := 0
	for _, t := range texts {
		total += len(t)
	}
	b.SetBytes(int64(total))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, t := range texts {
			sc := x.pool.Get().(*neoxScratch)
			clear(sc.cache)
			sc.arena = sc.arena[:0]
			x.pool.Put(sc)
			x.Encode(t)
		}
	}
}

func benchDecode(b *testing.B, tok Tokenizer) {
	texts := lambadaText(b)
	var all [][]int
	total := 0
	for _, t := range texts {
		all = append(all, tok.Encode(t))
		total += len(t)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, ids := range all {
			tok.Decode(ids)
		}
	}
}

func BenchmarkWorldDecode(b *testing.B) { benchDecode(b, loadWorld(b)) }
func BenchmarkNeoXDecode(b *testing.B)  { benchDecode(b, loadNeoX(b)) }

func BenchmarkLoadWorld(b *testing.B) {
	p := testdata(b, "tokenizers/"+WorldFile)
	for i := 0; i < b.N; i++ {
		if _, err := LoadWorld(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadNeoX(b *testing.B) {
	p := testdata(b, "tokenizers/"+NeoXFile)
	for i := 0; i < b.N; i++ {
		if _, err := LoadNeoX(p); err != nil {
			b.Fatal(err)
		}
	}
}
