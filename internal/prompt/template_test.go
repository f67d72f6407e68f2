package prompt

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func mustLookup(t *testing.T, name string) Template {
	t.Helper()
	tp, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

const ravenPrimingGolden = "\nThe following is a coherent verbose detailed conversation between a girl named Alice and her friend Bob. Alice is very intelligent, creative and friendly. Alice is unlikely to disagree with Bob, and Alice doesn't like to ask Bob questions. Alice likes to tell Bob a lot about herself and her opinions. Alice usually gives Bob kind, helpful and informative advices.\n\nBob: Hello Alice, how are you doing?\n\nAlice: Hi! Thanks, I'm fine. What about you?\n\nBob: I am fine. It's nice to see you. Look, here is a store selling tea and juice.\n\nAlice: Sure. Let's go inside. I would like to have some Mocha latte, which is my favourite!\n\nBob: What is it?\n\nAlice: Mocha latte is usually made with espresso, milk, chocolate, and frothed milk. Its flavors are frequently sweet.\n\nBob: Sounds tasty. I'll try it next time. Would you like to chat with me for a while?\n\nAlice: Of course! I'm glad to answer your questions or give helpful advices. You know, I am confident with my expertise. So please go ahead!\n\n"

const worldPrimingGolden = "User: hi\n\nAssistant: Hi. I am your assistant and I will provide expert full response in full details. Please feel free to ask any question and I will always answer it.\n\n"

// TestGolden pins the exact bytes of every template and variant.
func TestGolden(t *testing.T) {
	const doc = "Paris is the capital of France.\r\n\r\n\r\nIt has 2 million inhabitants.\n\n"
	const q = "  How many people live in Paris?\n\n"
	tests := []struct {
		name string
		tmpl string
		got  func(Template) string
		want string
	}{
		// ---- world / g1 (§10.2)
		{"world/turn", "world", func(t Template) string { return t.User("Hello!") },
			"User: Hello!\n\nAssistant:"},
		{"g1/turn", "g1", func(t Template) string { return t.User("Hello!") },
			"User: Hello!\n\nAssistant:"},
		{"g1/turn-cleaned", "g1", func(t Template) string { return t.User("\r\n  line one\r\n\r\nline two\n\n\n") },
			"User: line one\nline two\n\nAssistant:"},
		{"g1/system", "g1", func(t Template) string {
			return t.Render("You are terse.\n\nVery terse.", true, nil, Message{Text: "Hi"})
		},
			"System: You are terse.\nVery terse.\n\nUser: Hi\n\nAssistant:"},
		{"g1/start-empty", "g1", func(t Template) string { return t.Start("", true) },
			""},
		{"g1/multi-turn", "g1", func(t Template) string {
			return t.Render("", true, []Exchange{{User: Message{Text: "xxx"}, Reply: "yyy"}}, Message{Text: "zzz"})
		}, "User: xxx\n\nAssistant: yyy\n\nUser: zzz\n\nAssistant:"},
		{"g1/multi-turn-system", "g1", func(t Template) string {
			return t.Render("S", false, []Exchange{{User: Message{Text: "a"}, Reply: " b\n\n"}, {User: Message{Text: "c"}, Reply: "d"}}, Message{Text: "e"})
		}, "System: S\n\nUser: a\n\nAssistant: b\n\nUser: c\n\nAssistant: d\n\nUser: e\n\nAssistant:"},
		{"g1/think", "g1", func(t Template) string { return t.Turn(Message{Text: "Why?", Think: ThinkOn}) },
			"User: Why?\n\nAssistant: <think"},
		{"g1/think-normal", "g1", func(t Template) string { return t.Turn(Message{Text: "Why?", Think: ThinkOn, Effort: EffortNormal}) },
			"User: Why? (think)\n\nAssistant: <think"},
		{"g1/think-bit", "g1", func(t Template) string { return t.Turn(Message{Text: "Why?", Think: ThinkOn, Effort: EffortLittle}) },
			"User: Why? (think a bit)\n\nAssistant: <think"},
		{"g1/think-lot", "g1", func(t Template) string { return t.Turn(Message{Text: "Why?", Think: ThinkOn, Effort: EffortMuch}) },
			"User: Why? (think a lot)\n\nAssistant: <think"},
		{"g1/fake-think", "g1", func(t Template) string { return t.Turn(Message{Text: "Why?", Think: ThinkFake, Effort: EffortMuch}) },
			"User: Why?\n\nAssistant: <think>\n</think"},
		{"world/priming", "world", func(t Template) string { return t.Start("", true) },
			worldPrimingGolden},
		{"world/priming-off", "world", func(t Template) string { return t.Start("", false) },
			""},
		{"world/system+priming+turn", "world", func(t Template) string { return t.Render(" Be kind. ", true, nil, Message{Text: "Hi"}) },
			"System: Be kind.\n\n" + worldPrimingGolden + "User: Hi\n\nAssistant:"},
		{"world/sandwich", "world", func(t Template) string { return t.Turn(Message{Text: q, Document: doc}) },
			"User: How many people live in Paris?\nParis is the capital of France.\nIt has 2 million inhabitants.\n(Question: How many people live in Paris?)\n\nAssistant:"},
		{"g1/sandwich-multiline-question", "g1", func(t Template) string {
			return t.Turn(Message{Text: "Summarise this.\nUse three bullets.", Document: "A.\n\nB."})
		}, "User: Summarise this.\nUse three bullets.\nA.\nB.\n(Question: Summarise this. Use three bullets.)\n\nAssistant:"},
		{"g1/sandwich-norestate", "g1", func(t Template) string { return t.Turn(Message{Text: q, Document: doc, NoRestate: true}) },
			"User: How many people live in Paris?\nParis is the capital of France.\nIt has 2 million inhabitants.\n\nAssistant:"},
		{"g1/sandwich-think", "g1", func(t Template) string {
			return t.Turn(Message{Text: "Who?", Document: "Bob did it.", Think: ThinkOn, Effort: EffortLittle})
		}, "User: Who?\nBob did it.\n(Question: Who?) (think a bit)\n\nAssistant: <think"},
		{"g1/sandwich-fake-think", "g1", func(t Template) string {
			return t.Turn(Message{Text: "Who?", Document: "Bob did it.", Think: ThinkFake})
		}, "User: Who?\nBob did it.\n(Question: Who?)\n\nAssistant: <think>\n</think"},
		{"g1/document-only", "g1", func(t Template) string { return t.Turn(Message{Document: doc}) },
			"User: Paris is the capital of France.\nIt has 2 million inhabitants.\n\nAssistant:"},
		{"g1/reply", "g1", func(t Template) string { return t.Reply("\nSure.\n\n") },
			" Sure.\n\n"},

		// ---- raven (§10.3)
		{"raven/priming", "raven", func(t Template) string { return t.Start("", true) },
			ravenPrimingGolden},
		{"raven/turn", "raven", func(t Template) string { return t.User("What is RWKV?") },
			"Bob: What is RWKV?\n\nAlice:"},
		{"raven/think-ignored", "raven", func(t Template) string { return t.Turn(Message{Text: "Hi", Think: ThinkOn}) },
			"Bob: Hi\n\nAlice:"},
		{"raven/full", "raven", func(t Template) string { return t.Render("", true, nil, Message{Text: "Hi"}) },
			ravenPrimingGolden + "Bob: Hi\n\nAlice:"},
		{"raven/system", "raven", func(t Template) string { return t.Start("Alice is a pirate.", true) },
			"\nAlice is a pirate.\n\n" + ravenPrimingGolden[1:]},
		{"raven/system-no-priming", "raven", func(t Template) string { return t.Start("Alice is a pirate.", false) },
			"\nAlice is a pirate.\n\n"},
		{"raven/sandwich", "raven", func(t Template) string { return t.Turn(Message{Text: q, Document: doc}) },
			"Bob: How many people live in Paris?\nParis is the capital of France.\nIt has 2 million inhabitants.\n(Question: How many people live in Paris?)\n\nAlice:"},
		{"raven/reply", "raven", func(t Template) string { return t.Reply("Hi Bob") },
			" Hi Bob\n\n"},

		// ---- raven-instruct (§10.3)
		{"raven-instruct/no-input", "raven-instruct", func(t Template) string { return t.User("Write a haiku.\n\nAbout tea.") },
			"\nBelow is an instruction that describes a task. Write a response that appropriately completes the request.\n\n# Instruction:\nWrite a haiku.\nAbout tea.\n\n# Response:\n"},
		{"raven-instruct/input", "raven-instruct", func(t Template) string {
			return t.Turn(Message{Text: "Translate to French.", Document: "Good morning.\n\nHow are you?", NoRestate: true})
		}, "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n# Instruction:\nTranslate to French.\n\n# Input:\nGood morning.\nHow are you?\n\n# Response:\n"},
		{"raven-instruct/sandwich", "raven-instruct", func(t Template) string { return t.Turn(Message{Text: q, Document: doc}) },
			"Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n# Instruction:\nHow many people live in Paris?\n\n# Input:\nParis is the capital of France.\nIt has 2 million inhabitants.\n(Question: How many people live in Paris?)\n\n# Response:\n"},
		{"raven-instruct/system", "raven-instruct", func(t Template) string { return t.Start("Be brief.", true) },
			"\nBe brief.\n\n"},

		// ---- instruct (World single-shot, §10.2)
		{"instruct/sandwich", "instruct", func(t Template) string { return t.Turn(Message{Text: q, Document: doc}) },
			"Instruction: How many people live in Paris?\n\nInput: Paris is the capital of France.\nIt has 2 million inhabitants.\n(Question: How many people live in Paris?)\n\nResponse:"},
		{"instruct/input-norestate", "instruct", func(t Template) string {
			return t.Turn(Message{Text: "Translate to French.", Document: "Good morning.", NoRestate: true})
		}, "Instruction: Translate to French.\n\nInput: Good morning.\n\nResponse:"},
		{"instruct/no-input", "instruct", func(t Template) string { return t.User("What is 2+2?") },
			"User: What is 2+2?\n\nAssistant:"},
		{"instruct/system", "instruct", func(t Template) string { return t.Render("Be brief.", true, nil, Message{Text: "Q", Document: "D"}) },
			"System: Be brief.\n\nInstruction: Q\n\nInput: D\n(Question: Q)\n\nResponse:"},

		// ---- raw
		{"raw/turn", "raw", func(t Template) string { return t.User("  The quick\n\n\nbrown fox") },
			"  The quick\n\n\nbrown fox"},
		{"raw/system", "raw", func(t Template) string {
			return t.Render("\nOnce upon a time.\n", true, nil, Message{Text: "There was"})
		},
			"Once upon a time.\n\nThere was"},
		{"raw/sandwich", "raw", func(t Template) string { return t.Turn(Message{Text: q, Document: doc}) },
			"How many people live in Paris?\n\nParis is the capital of France.\r\n\r\n\r\nIt has 2 million inhabitants.\n\n(Question: How many people live in Paris?)"},
		{"raw/document-only", "raw", func(t Template) string { return t.Turn(Message{Document: "abc\n"}) },
			"abc\n"},
		{"raw/reply", "raw", func(t Template) string { return t.Reply(" as is\n") },
			" as is\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.got(mustLookup(t, tc.tmpl))
			if got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// TestNoBlankLineInsideTurn: for every non-raw template, a turn contains
// "\n\n" only where the format puts it.
func TestNoBlankLineInsideTurn(t *testing.T) {
	nasty := []string{"a\n\n\nb", "\r\n\r\nx\r\n\r\n", "x\n \ny", "\n\n", "p\r\r\n\r\nq"}
	for _, name := range Names() {
		if name == "raw" {
			continue
		}
		tp := mustLookup(t, name)
		withDoc := strings.Count(tp.Turn(Message{Text: "Q", Document: "D"}), "\n\n")
		plain := strings.Count(tp.Turn(Message{Text: "Q"}), "\n\n")
		for _, a := range nasty {
			for _, b := range nasty {
				fixed := withDoc
				switch {
				case Clean(a) == "" && Clean(b) == "":
					continue
				case Clean(a) == "" || Clean(b) == "":
					fixed = plain
				}
				got := tp.Turn(Message{Text: a, Document: b})
				if n := strings.Count(got, "\n\n"); n != fixed {
					t.Errorf("%s: Turn(%q, %q) = %q has %d blank lines, want %d", name, a, b, got, n, fixed)
				}
			}
		}
	}
}

// TestRavenPrimingMatchesSpec extracts the English-2 prompt from the spec's
// §10.3 code block and compares it with the template.
func TestRavenPrimingMatchesSpec(t *testing.T) {
	root := os.Getenv("RWKV_TESTDATA")
	if root == "" {
		root = filepath.Join("..", "..", "..", "shared")
	}
	spec, err := os.ReadFile(filepath.Join(root, "docs", "rwkv-spec.md"))
	if err != nil {
		t.Skipf("spec not available: %v", err)
	}
	sec := string(spec)
	i := strings.Index(sec, "### 10.3")
	if i < 0 {
		t.Fatal("no §10.3 in the spec")
	}
	sec = sec[i:]
	m := regexp.MustCompile("(?s)```\n(.*?)\n```").FindStringSubmatch(sec)
	if m == nil {
		t.Fatal("no code block in §10.3")
	}
	want := strings.ReplaceAll(m[1], `\n`, "\n")
	if ravenPriming != want {
		t.Errorf("raven priming differs from the spec:\n got %q\nwant %q", ravenPriming, want)
	}
	for _, s := range []string{worldPriming, ravenInstructHead[1:], ravenInstructInputHead} {
		probe := strings.ReplaceAll(s, "\n", `\n`)
		if len(probe) > 120 {
			probe = probe[:120]
		}
		if !strings.Contains(string(spec), probe) {
			t.Errorf("spec does not contain %q", probe)
		}
	}
}

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"hello", "hello"},
		{"a\r\nb", "a\nb"},
		{"a\r\n\r\nb", "a\nb"},
		{"a\n\n\nb", "a\nb"},
		{"a\n\nb\n\n\n\nc", "a\nb\nc"},
		{"  \t hi there \n ", "hi there"},
		{"\n\n\nhi\n\n\n", "hi"},
		{"a \n \n b", "a \n \n b"},           // only consecutive newlines collapse
		{"a\r\rb", "a\r\rb"},                 // lone CR kept
		{"x\r\r\ny", "x\r\ny"},               // one pass, like str.replace
		{"\u00a0\u3000hi\u2003\u200a", "hi"}, // Unicode spaces stripped (Python str.strip)
		{"\x1c\x1fhi\x1e", "hi"},             // Python's isspace includes FS..US
		{"\u200bhi\u200b", "\u200bhi\u200b"}, // zero-width space is not whitespace
		{"\ufeffhi", "\ufeffhi"},
		{"a\u00a0\u00a0b", "a\u00a0\u00a0b"},
		{"你好\r\n\r\n世界", "你好\n世界"},
		{"\v\fx\v\f", "x"},
		{"\u0085x\u2028", "x"},
	}
	for _, tc := range tests {
		if got := Clean(tc.in); got != tc.want {
			t.Errorf("Clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine(" a\n b \t c "); got != "a b c" {
		t.Errorf("oneLine = %q", got)
	}
	long := strings.Repeat("word ", 100)
	got := oneLine(long)
	if !strings.HasSuffix(got, "...") || utf8.RuneCountInString(got) > restateMax+3 || strings.Contains(got, "  ") {
		t.Errorf("oneLine(long) = %q", got)
	}
	if got != strings.Repeat("word ", 39)+"word..." {
		t.Errorf("oneLine(long) = %q", got)
	}
	nospace := strings.Repeat("é", 300)
	if got := oneLine(nospace); got != strings.Repeat("é", restateMax)+"..." {
		t.Errorf("oneLine(nospace) = %q", got)
	}
}

func TestLookup(t *testing.T) {
	for _, n := range []string{"raw", "world", "g1", "raven", "raven-instruct", "instruct"} {
		tp := mustLookup(t, n)
		if tp.Name != n {
			t.Errorf("Lookup(%q).Name = %q", n, tp.Name)
		}
	}
	if tp := mustLookup(t, " G0 "); tp.Name != "g1" {
		t.Errorf("g0 alias gives %q", tp.Name)
	}
	_, err := Lookup("chatml")
	if err == nil || !strings.Contains(err.Error(), "g1, instruct, raven, raven-instruct, raw, world") {
		t.Errorf("Lookup(chatml) error = %v", err)
	}
	// Lookup returns copies.
	a := mustLookup(t, "world")
	a.Stops[0] = "changed"
	if b := mustLookup(t, "world"); b.Stops[0] == "changed" {
		t.Error("Lookup shares the Stops slice")
	}
}

func TestForModel(t *testing.T) {
	tests := []struct{ ver, tok, want string }{
		{"7.0", "world", "g1"},
		{"7", "World", "g1"},
		{"v7", "world", "g1"},
		{"x070", "world", "g1"},
		{"6.0", "world", "world"},
		{"5.2", "world", "world"},
		{"5.0", "world", "world"},
		{"4", "world", "world"},
		{"", "world", "world"},
		{"4", "neox", "raven"},
		{"7.0", "neox", "raven"},
		{"4", "20b", "raven"},
		{"4", "bytes", "raw"},
		{"7.0", "bytes", "raw"},
		{"5.1", "", "raw"},
	}
	for _, tc := range tests {
		if got := ForModel(tc.ver, tc.tok); got != tc.want {
			t.Errorf("ForModel(%q, %q) = %q, want %q", tc.ver, tc.tok, got, tc.want)
		}
		if _, err := Lookup(ForModel(tc.ver, tc.tok)); err != nil {
			t.Error(err)
		}
	}
}

// TestDefaults pins §11.2's table rows per template.
func TestDefaults(t *testing.T) {
	want := map[string]Sampling{
		"world":          {Temperature: 1, TopP: 0.3, Presence: 0.5, Frequency: 0.5, Decay: 0.996, MaxTokens: 999},
		"g1":             {Temperature: 1, TopP: 0.3, Presence: 0.5, Frequency: 0.5, Decay: 0.996, MaxTokens: 999},
		"raven":          {Temperature: 1.2, TopP: 0.5, Presence: 0.4, Frequency: 0.4, Decay: 0.996, MaxTokens: 999},
		"raven-instruct": {Temperature: 1.2, TopP: 0.5, Presence: 0.4, Frequency: 0.4, Decay: 0.996, MaxTokens: 256},
		"raw":            {Temperature: 1, TopP: 0.85, Presence: 0.2, Frequency: 0.2, Decay: 0.996, MaxTokens: 256},
		"instruct":       {Temperature: 1, TopP: 0.2, Presence: 0.4, Frequency: 0.4, Decay: 0.996, MaxTokens: 999},
	}
	for n, w := range want {
		if got := mustLookup(t, n).Defaults; got != w {
			t.Errorf("%s defaults = %+v, want %+v", n, got, w)
		}
	}
	if len(want) != len(Names()) {
		t.Errorf("defaults pinned for %d templates, have %d", len(want), len(Names()))
	}
}

func TestStops(t *testing.T) {
	for _, n := range Names() {
		tp := mustLookup(t, n)
		switch n {
		case "raw", "raven-instruct":
			if tp.EndOfReply != "" {
				t.Errorf("%s EndOfReply = %q", n, tp.EndOfReply)
			}
		default:
			if tp.EndOfReply != "\n\n" {
				t.Errorf("%s EndOfReply = %q", n, tp.EndOfReply)
			}
		}
		for _, s := range tp.Stops {
			if strings.Contains(s, "\n\n") {
				t.Errorf("%s stop %q can never fire before EndOfReply", n, s)
			}
		}
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "a\r\n\r\nb", "\n\n\n", " x ", "\r\r\n", "\u3000\u00a0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := Clean(s)
		if strings.Contains(c, "\n\n") {
			t.Fatalf("Clean(%q) = %q contains a blank line", s, c)
		}
		if c != strings.TrimFunc(c, isPySpace) {
			t.Fatalf("Clean(%q) = %q has surrounding space", s, c)
		}
		for _, name := range Names() {
			tp, _ := Lookup(name)
			_ = tp.Turn(Message{Text: s, Document: s, Think: ThinkOn, Effort: EffortMuch})
		}
	})
}
