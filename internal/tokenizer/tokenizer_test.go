package tokenizer

import (
	"bytes"
	"fmt"
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// Spec §14.3.
func TestSpecVectorsWorld(t *testing.T) {
	w := loadWorld(t)
	cases := []struct {
		text string
		ids  []int
	}{
		{"Hello world", []int{33155, 40213}},
		{"User: hi\n\nAssistant:", []int{24281, 59, 4571, 261, 5585, 41693, 59}},
		{"\nIn a shocking finding, scientist discovered a herd of dragons", []int{11, 1136, 332, 57212, 51746, 45, 60455, 61885, 332, 31076, 4706, 51525}},
		{"我捡到了一只小猫，该怎样喂它", []int{12605, 12790, 10792, 10333, 10250, 11016, 11975, 14398, 19137, 16721, 12401, 13324, 11253, 11885}},
		{"Assistant: <think", []int{5585, 41693, 59, 295, 35762}},
		{"\u00a0\u0080 \t\t\r\n  x", []int{2430, 2423, 3334, 19245, 121}},
		{"🐱 emoji", []int{3319, 145, 178, 38362}},
		{"😀", []int{3319, 153, 129}},
		{"<|endoftext|>", w.Encode([]byte("<|endoftext|>"))},
	}
	for _, c := range cases {
		if got := w.Encode([]byte(c.text)); !equalIDs(got, c.ids) {
			t.Errorf("World Encode(%q) = %v, want %v", c.text, got, c.ids)
		}
		if got := w.Decode(c.ids); string(got) != c.text {
			t.Errorf("World Decode(%v) = %q, want %q", c.ids, got, c.text)
		}
	}
	for id, want := range map[int]string{11: "\n", 33: " ", 59: ":", 261: "\n\n", 24281: "User", 2423: "\u0080", 65529: strings.Repeat(" ", 128)} {
		if got := string(w.TokenBytes(id)); got != want {
			t.Errorf("TokenBytes(%d) = %q, want %q", id, got, want)
		}
	}
	if w.TokenBytes(0) != nil || w.TokenBytes(65530) != nil || w.TokenBytes(-1) != nil {
		t.Error("TokenBytes of 0, 65530 or -1 should be nil")
	}
	if w.VocabSize() != 65530 || w.Name() != "world" {
		t.Errorf("VocabSize %d, Name %q", w.VocabSize(), w.Name())
	}
	if got := w.Encode([]byte{0xff}); !equalIDs(got, []int{256}) {
		t.Errorf("Encode(ff) = %v", got)
	}
	if got := w.Decode([]int{0, 33, 70000, -5}); string(got) != " " {
		t.Errorf("Decode skipping bad ids = %q", got)
	}
}

func TestSpecVectorsNeoX(t *testing.T) {
	x := loadNeoX(t)
	cases := []struct {
		text string
		ids  []int
	}{
		{"\nThe following is a", []int{187, 510, 1563, 310, 247}},
		{"Hello world", []int{12092, 1533}},
		{"Bob: Hello Alice, how are you doing?\n\nAlice:", []int{26845, 27, 24387, 16922, 13, 849, 403, 368, 2509, 32, 187, 187, 2422, 547, 27}},
		{"def f(x):\n    return  x", []int{1545, 269, 9, 89, 2262, 187, 50274, 2309, 50276, 89}},
		{"\n\n", []int{535}},
		{"a   b", []int{66, 50275, 67}},
		{"<|endoftext|>The end", []int{0, 510, 990}},
		// fixtures/tokenizer/README.md
		{"Hello<|endoftext|>World", []int{12092, 0, 14947}},
		{strings.Repeat(" ", 30), []int{50254, 50272}},
		{strings.Repeat(" ", 25), []int{50254, 209}},
		{"  hello", []int{50276, 25521}},
		{"\n\n  bar", []int{535, 50276, 2009}},
		{" hello", []int{23120}},
		{"    ", []int{50274}},
		{"😀", []int{14931, 235, 211}},
	}
	for _, c := range cases {
		if got := x.Encode([]byte(c.text)); !equalIDs(got, c.ids) {
			t.Errorf("NeoX Encode(%q) = %v, want %v", c.text, got, c.ids)
		}
	}
	if got := string(x.Decode([]int{0, 510, 990, 1, -1, 50277})); got != "<|endoftext|>The end<|padding|>" {
		t.Errorf("Decode = %q", got)
	}
	if !x.IsSpecial(0) || !x.IsSpecial(1) || x.IsSpecial(50276) || x.IsSpecial(2) {
		t.Error("IsSpecial")
	}
	if got := string(x.TokenBytes(0)); got != "<|endoftext|>" {
		t.Errorf("TokenBytes(0) = %q", got)
	}
	if got := string(x.TokenBytes(50276)); got != "  " {
		t.Errorf("TokenBytes(50276) = %q", got)
	}
	if x.VocabSize() != 50277 || x.Name() != "neox" {
		t.Errorf("VocabSize %d, Name %q", x.VocabSize(), x.Name())
	}
}

func TestBytes(t *testing.T) {
	b := Bytes()
	if got := b.Encode([]byte(`"in`)); !equalIDs(got, []int{34, 105, 110}) {
		t.Errorf("Encode = %v", got)
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		in := randBytes(rng, rng.Intn(100))
		if got := b.Decode(b.Encode(in)); !bytes.Equal(got, in) {
			t.Fatalf("round trip %x → %x", in, got)
		}
	}
	if b.VocabSize() != 256 || b.Name() != "bytes" || b.TokenBytes(256) != nil || b.TokenBytes(65)[0] != 'A' {
		t.Error("bytes tokenizer metadata")
	}
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		switch rng.Intn(4) {
		case 0:
			b[i] = byte(rng.Intn(256))
		case 1:
			b[i] = 0x80 + byte(rng.Intn(0x40)) // continuation bytes
		case 2:
			b[i] = 0xC0 + byte(rng.Intn(0x40)) // lead bytes
		default:
			b[i] = byte(' ' + rng.Intn(95))
		}
	}
	return b
}

// randText returns random valid UTF-8 drawn from scripts the tokenizers
// care about: ASCII, spaces, Latin with combining marks, CJK, Hangul, emoji.
func randText(rng *rand.Rand, n int) string {
	pools := []string{
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
		"    \n\n\t\r'.,;:!?-\"()",
		"éèêëàâçñöüßÆøÅ\u0301\u0300\u0308\u0327\u0323\u031b",
		"我捡到了一只小猫该怎样喂它日本語のテキスト",
		"한국어안녕하세요\u1100\u1161\u11a8",
		"😀🐱👍🏽👨‍👩‍👧🇫🇷\u200d\ufe0f",
		"αβγδ Ωμέγα кириллица עברית العربية देवनागरी",
		"\u00a0\u3000\u2028\u0085\u200b\ufeff",
	}
	var sb strings.Builder
	for i := 0; i < n; i++ {
		p := []rune(pools[rng.Intn(len(pools))])
		sb.WriteRune(p[rng.Intn(len(p))])
	}
	return sb.String()
}

func TestWorldRoundTripRandom(t *testing.T) {
	w := loadWorld(t)
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 2000; i++ {
		var in []byte
		if i%2 == 0 {
			in = randBytes(rng, rng.Intn(200))
		} else {
			in = []byte(randText(rng, rng.Intn(200)))
		}
		ids := w.Encode(in)
		for _, id := range ids {
			if id <= 0 || id >= w.VocabSize() {
				t.Fatalf("Encode(%q) produced id %d", in, id)
			}
		}
		if got := w.Decode(ids); !bytes.Equal(got, in) {
			t.Fatalf("round trip %q → %q", in, got)
		}
	}
}

// nfcOf is the reference's NFC (Unicode 9.0) of b.
func nfcOf(b []byte) []byte {
	var buf []rune
	return unicodeTables().appendNFC(nil, b, &buf)
}

func TestNeoXRoundTrip(t *testing.T) {
	x := loadNeoX(t)
	// The hard cases whose text is not NFC (fixtures/tokenizer/README.md).
	notNFC := map[string]bool{
		"hard:unicode_spaces": true, "hard:comb_e_acute_decomposed": true, "hard:comb_cafe_decomposed": true,
		"hard:comb_a_ring_decomposed": true, "hard:comb_ohm_sign": true, "hard:comb_n_tilde_decomposed": true,
		"hard:comb_hangul_jamo": true, "hard:comb_double_acute_order": true, "hard:e_acute_decomposed_300": true,
		"hard:uver_ccc_mark_u9": true, "hard:uver_nfc_grantha_chakma_old": true,
	}
	got := map[string]bool{}
	for _, fx := range readFixtures(t, "neox.jsonl") {
		dec := x.Decode(x.Encode(fx.input))
		if !bytes.Equal(dec, nfcOf(fx.input)) {
			t.Errorf("%s: Decode(Encode(x)) = %q, want NFC(x) = %q", fx.Name, dec, nfcOf(fx.input))
		}
		if !bytes.Equal(dec, fx.input) {
			got[fx.Name] = true
		}
		if d := x.Decode(fx.IDs); !bytes.Equal(d, nfcOf(fx.input)) {
			t.Errorf("%s: Decode(reference ids) = %q", fx.Name, d)
		}
	}
	for n := range notNFC {
		if !got[n] {
			t.Errorf("%s round-trips, but the reference's NFC changes it", n)
		}
	}
	for n := range got {
		if !notNFC[n] {
			t.Errorf("%s does not round-trip", n)
		}
	}
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 2000; i++ {
		in := nfcOf([]byte(randText(rng, rng.Intn(200))))
		if got := x.Decode(x.Encode(in)); !bytes.Equal(got, in) {
			t.Fatalf("round trip of NFC text %q → %q", in, got)
		}
		// Arbitrary bytes: NFC of the valid runs, minus the bytes the 20B
		// vocabulary has no symbol for.
		raw := randBytes(rng, rng.Intn(100))
		var want []byte
		for _, c := range nfcOf(raw) {
			if c == 0xC0 || c == 0xC1 || c >= 0xF5 {
				continue
			}
			want = append(want, c)
		}
		if got := x.Decode(x.Encode(raw)); !bytes.Equal(got, want) {
			t.Fatalf("bytes %x: round trip %x, want %x", raw, got, want)
		}
	}
}

func TestUnicodeTables(t *testing.T) {
	u := unicodeTables()
	// isNFC's fast path assumes code points below U+0300 are starters that
	// never compose with what precedes them.
	for r := rune(0); r < 0x300; r++ {
		if u.ccc(r) != 0 || u.prop(r)&(propNo|propMaybe) != 0 {
			t.Errorf("U+%04X: ccc %d, prop %b", r, u.ccc(r), u.prop(r))
		}
	}
	for _, c := range []struct {
		r   rune
		cls int
	}{{'a', clsLetter}, {'5', clsNumber}, {' ', clsSpace}, {0x3000, clsSpace}, {0x200B, clsOther},
		{0x10D4A, clsLetter}, {0x1CCF0, clsNumber}, {0x2EBF0, clsLetter}, {0x10940, clsOther}, {0x0301, clsOther}} {
		if got := int(u.prop(c.r) & propClassMask); got != c.cls {
			t.Errorf("class of U+%04X = %d, want %d", c.r, got, c.cls)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"e\u0301", "é"},
		{"\u2126", "\u03a9"},
		{"\u1100\u1161\u11a8", "각"},
		{"a\u0323\u0302", "ậ"},
		{"a\u0302\u0323", "ậ"},
		{"\U00011935\U00011930", "\U00011935\U00011930"}, // Unicode 13 composition: not in 9.0
		{"a\u0316\u1df6", "a\u0316\u1df6"},               // U+1DF6 (Unicode 10) counts as ccc 0
		{"\xff\u0301e\u0301\xc3", "\xff\u0301é\xc3"},
	} {
		if got := string(nfcOf([]byte(c.in))); got != c.want {
			t.Errorf("NFC(%+q) = %+q, want %+q", c.in, got, c.want)
		}
	}
}

func TestMask(t *testing.T) {
	if m := Mask(Bytes(), 256); len(m) != 0 {
		t.Errorf("bytes mask %v", m)
	}
	w := loadWorld(t)
	if m := Mask(w, 65536); !equalIDs(m, []int{65530, 65531, 65532, 65533, 65534, 65535}) {
		t.Errorf("World mask %v", m)
	}
	logits := make([]float32, 65536)
	MaskLogits(w, logits)
	if logits[0] != 0 || logits[65529] != 0 || !math.IsInf(float64(logits[65530]), -1) || !math.IsInf(float64(logits[65535]), -1) {
		t.Error("MaskLogits World")
	}
	x := loadNeoX(t)
	m := Mask(x, 50304)
	if len(m) != 27 || m[0] != 50277 || m[26] != 50303 {
		t.Errorf("NeoX mask %v", m)
	}
	if len(Mask(x, 50277)) != 0 {
		t.Error("NeoX 50277 mask not empty")
	}
}

func TestStreamDecoderFixtures(t *testing.T) {
	for _, c := range []struct {
		file string
		tok  Tokenizer
	}{{"world.jsonl", loadWorld(t)}, {"neox.jsonl", loadNeoX(t)}} {
		for _, fx := range readFixtures(t, c.file) {
			d := NewStreamDecoder(c.tok)
			var all strings.Builder
			for _, id := range fx.IDs {
				s := d.Write(id)
				if !fx.isBytes {
					if !utf8.ValidString(s) {
						t.Fatalf("%s %s: Write(%d) emitted invalid UTF-8 %q", c.file, fx.Name, id, s)
					}
					if strings.ContainsRune(s, utf8.RuneError) && !strings.ContainsRune(fx.Text, utf8.RuneError) {
						t.Fatalf("%s %s: Write(%d) emitted U+FFFD", c.file, fx.Name, id)
					}
				}
				all.WriteString(s)
			}
			all.WriteString(d.Flush())
			if want := string(c.tok.Decode(fx.IDs)); all.String() != want {
				t.Fatalf("%s %s: stream gave %q, Decode %q", c.file, fx.Name, all.String(), want)
			}
			if d.Pending() != 0 {
				t.Fatal("pending after Flush")
			}
		}
	}
}

func TestStreamDecoder(t *testing.T) {
	w := loadWorld(t)
	d := NewStreamDecoder(w)
	// 😀 is F0 9F | 98 | 80 in World.
	for i, c := range []struct {
		id   int
		want string
	}{{3319, ""}, {153, ""}, {129, "😀"}, {33, " "}, {3319, ""}} {
		if got := d.Write(c.id); got != c.want {
			t.Errorf("step %d: Write(%d) = %q, want %q", i, c.id, got, c.want)
		}
	}
	if got := d.Flush(); got != "\xf0\x9f" {
		t.Errorf("Flush = %q", got)
	}
}

func TestStreamDecoderBytes(t *testing.T) {
	// Bytes that can never complete are passed through at once.
	b := NewStreamDecoder(Bytes())
	for _, c := range []struct {
		in   byte
		want string
	}{{0xff, "\xff"}, {0xe2, ""}, {'x', "\xe2x"}, {0xe2, ""}, {0x82, ""}, {0xac, "€"}, {0x80, "\x80"}, {0xed, ""}, {0xa0, "\xed\xa0"}} {
		if got := b.Write(int(c.in)); got != c.want {
			t.Errorf("Write(%02x) = %q, want %q", c.in, got, c.want)
		}
	}
	if b.Flush() != "" {
		t.Error("Flush not empty")
	}
	// Random bytes: the output is exactly the input, and only a valid
	// incomplete tail is ever held back.
	rng := rand.New(rand.NewSource(4))
	for i := 0; i < 500; i++ {
		in := randBytes(rng, rng.Intn(50))
		d := NewStreamDecoder(Bytes())
		var out []byte
		for _, c := range in {
			out = append(out, d.Write(int(c))...)
			if p := d.Pending(); p > 3 {
				t.Fatalf("%x: %d bytes pending", in, p)
			}
		}
		out = append(out, d.Flush()...)
		if !bytes.Equal(out, in) {
			t.Fatalf("%x: stream gave %x", in, out)
		}
	}
}

func TestParseWorld(t *testing.T) {
	var sb strings.Builder
	for b := 0; b < 256; b++ {
		sb.WriteString(strings.Join([]string{itoa(b + 1), "b'\\x" + hex2(b) + "'", "1"}, " ") + "\n")
	}
	base := sb.String()
	good := []struct {
		line string
		want string
	}{
		{`257 'a b' 3`, "a b"},
		{`258 '\x80' 2`, "\xc2\x80"},
		{`259 b'\xe5\xbe' 2`, "\xe5\xbe"},
		{`260 "it's" 4`, "it's"},
		{`261 '\'\\\n\t\r\u4e2d\U0001F600' 12`, "'\\\n\t\r中😀"},
		{`262 '中文' 6`, "中文"},
		{`263 '\d' 2`, `\d`},
		{`264 '\0\101' 2`, "\x00A"},
	}
	for _, g := range good {
		w, err := ParseWorld([]byte(base + g.line + "\n"))
		if err != nil {
			t.Errorf("%s: %v", g.line, err)
			continue
		}
		id := w.VocabSize() - 1
		if got := string(w.TokenBytes(id)); got != g.want {
			t.Errorf("%s: bytes %q, want %q", g.line, got, g.want)
		}
		if ids := w.Encode([]byte(g.want)); len(g.want) > 1 && (len(ids) != 1 || ids[0] != id) {
			t.Errorf("%s: Encode = %v", g.line, ids)
		}
	}
	bad := []string{
		`257 'abc' 2`,    // wrong length
		`257 'abc 3`,     // unterminated
		`x 'a' 1`,        // bad id
		`0 'ab' 2`,       // id 0
		`257 'ab' x`,     // bad length
		`257 ''' 1`,      // stray quote
		`257 '\x4' 1`,    // short escape
		`257 '\uD800' 3`, // surrogate
		`257 b'é' 2`,     // non-ASCII bytes literal
		`1 'ab' 2`,       // duplicate id
		`257 'a' 1`,      // duplicate bytes
		`257abc`,         // no spaces
	}
	for _, b := range bad {
		if _, err := ParseWorld([]byte(base + b + "\n")); err == nil {
			t.Errorf("%s: no error", b)
		}
	}
	if _, err := ParseWorld([]byte("1 'a' 1\n")); err == nil {
		t.Error("vocabulary without all single bytes accepted")
	}
	if _, err := ParseWorld(nil); err == nil {
		t.Error("empty vocabulary accepted")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func hex2(b int) string { return fmt.Sprintf("%02x", b) }

func TestParseNeoX(t *testing.T) {
	bad := []string{
		``, `[]`, `{}`, `{"model":{"type":"WordPiece","vocab":{"a":0}}}`,
		`{"model":{"type":"BPE","vocab":{"a":0}},"pre_tokenizer":{"type":"Whitespace"}}`,
		`{"model":{"type":"BPE","vocab":{"a":-1}},"pre_tokenizer":{"type":"ByteLevel"}}`,
		`{"model":{"type":"BPE","vocab":{"a":0,"b":0}},"pre_tokenizer":{"type":"ByteLevel"}}`,
		`{"model":{"type":"BPE","vocab":{"a":0},"merges":["a b"]},"pre_tokenizer":{"type":"ByteLevel"}}`,
		`{"model":{"type":"BPE","vocab":{"a":0},"merges":[7]},"pre_tokenizer":{"type":"ByteLevel"}}`,
		`{"model":{"type":"BPE","vocab":{"a":0}},"pre_tokenizer":{"type":"ByteLevel"},"normalizer":{"type":"NFKC"}}`,
		`{"model":{"type":"BPE","vocab":{"a":0}},"pre_tokenizer":{"type":"ByteLevel"},"added_tokens":[{"id":5,"content":""}]}`,
	}
	for _, b := range bad {
		if _, err := ParseNeoX([]byte(b)); err == nil {
			t.Errorf("%s: no error", b)
		}
	}
	// A tiny valid tokenizer with both merge syntaxes.
	js := `{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2,"Ġ":3,"Ġab":4},"merges":["a b",["Ġ","ab"]]},
		"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false},"normalizer":{"type":"NFC"},
		"added_tokens":[{"id":5,"content":"<s>","special":true},{"id":6,"content":"  ","normalized":true}]}`
	x, err := ParseNeoX([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	if got := x.Encode([]byte("ab ab<s>a  b")); !equalIDs(got, []int{2, 4, 5, 0, 6, 1}) {
		t.Errorf("Encode = %v", got)
	}
	// bytes without a symbol are dropped
	if got := x.Encode([]byte("xaby")); !equalIDs(got, []int{2}) {
		t.Errorf("Encode = %v", got)
	}
	if got := string(x.Decode([]int{2, 4, 5, 6})); got != "ab ab<s>  " {
		t.Errorf("Decode = %q", got)
	}
}

func TestPreTokenizer(t *testing.T) {
	unicodeTables()
	cases := []struct {
		in   string
		want []string
	}{
		{"a\t\tb", []string{"a", "\t", "\t", "b"}},
		{"x \n y", []string{"x", " \n", " y"}},
		{"I'M it's", []string{"I", "'", "M", " it", "'s"}},
		{"we're they'll I've I'd", []string{"we", "'re", " they", "'ll", " I", "'ve", " I", "'d"}},
		{"?\n\nAlice", []string{"?", "\n", "\n", "Alice"}},
		{"end\n\n", []string{"end", "\n\n"}},
		{"a  ", []string{"a", "  "}},
		{"hello world 123 4.5!!", []string{"hello", " world", " 123", " 4", ".", "5", "!!"}},
		{"x’s", []string{"x", "’", "s"}},
		{"''s", []string{"''", "s"}},
		// U+3000 is not ' ', so it cannot prefix a word.
		{"a\u3000\u3000b", []string{"a", "\u3000", "\u3000", "b"}},
		{" ", []string{" "}},
		{"\xffab", []string{"\xff", "ab"}},
	}
	for _, c := range cases {
		var got []string
		for i := 0; i < len(c.in); {
			j := nextPiece([]byte(c.in), i)
			got = append(got, c.in[i:j])
			i = j
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("pieces(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestClassesAgainstGo compares the Unicode 16.0 classes with Go's tables:
// they may only add letters and digits that Go's older tables lack.
func TestClassesAgainstGo(t *testing.T) {
	u := unicodeTables()
	for _, rgs := range [][][2]int32{letterRanges16[:], numberRanges16[:], compExcl9[:]} {
		for i := 1; i < len(rgs); i++ {
			if rgs[i][0] <= rgs[i-1][1] || rgs[i][0] > rgs[i][1] {
				t.Fatalf("ranges not sorted at %d: %x %x", i, rgs[i-1], rgs[i])
			}
		}
	}
	added := 0
	for r := rune(0); r <= unicode.MaxRune; r++ {
		mine := int(u.prop(r) & propClassMask)
		var goCls int
		switch {
		case unicode.IsLetter(r):
			goCls = clsLetter
		case unicode.IsNumber(r):
			goCls = clsNumber
		case unicode.Is(unicode.White_Space, r):
			goCls = clsSpace
		}
		if mine == goCls {
			continue
		}
		if goCls != clsOther || unicode.Version != "15.0.0" {
			if unicode.Version == "15.0.0" {
				t.Errorf("U+%04X: class %d, Go %s says %d", r, mine, unicode.Version, goCls)
			}
			continue
		}
		added++
	}
	t.Logf("%d letters and digits of Unicode 15.1/16.0 unknown to Go's Unicode %s tables", added, unicode.Version)
}

func TestConcurrentEncode(t *testing.T) {
	texts := lambadaText(t)[:200]
	for _, tok := range []Tokenizer{loadWorld(t), loadNeoX(t)} {
		want := make([][]int, len(texts))
		for i, s := range texts {
			want[i] = tok.Encode(s)
		}
		done := make(chan string, 4)
		for g := 0; g < 4; g++ {
			go func(g int) {
				for k := range texts {
					i := (k + g*37) % len(texts)
					if !equalIDs(tok.Encode(texts[i]), want[i]) {
						done <- tok.Name() + ": concurrent Encode differs"
						return
					}
				}
				done <- ""
			}(g)
		}
		for g := 0; g < 4; g++ {
			if msg := <-done; msg != "" {
				t.Error(msg)
			}
		}
	}
}
