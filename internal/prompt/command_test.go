package prompt

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		line string
		want Command
	}{
		{"/help", Command{Name: "help"}},
		{"  /HELP  ", Command{Name: "help"}},
		{"/?", Command{Name: "help"}},
		{"/reset", Command{Name: "reset"}},
		{"/clear", Command{Name: "reset"}},
		{"/regen", Command{Name: "regen"}},
		{"/stats", Command{Name: "stats"}},
		{"/bye", Command{Name: "bye"}},
		{"/quit", Command{Name: "bye"}},
		{"/exit", Command{Name: "bye"}},
		{"/system You are a pirate.  ", Command{Name: "system", Arg: "You are a pirate."}},
		{"/system", Command{Name: "system"}},
		{"/system\tline one\nline two", Command{Name: "system", Arg: "line one\nline two"}},
		{`/system "quoted stays"`, Command{Name: "system", Arg: `"quoted stays"`}},
		{"/set temp 0.7", Command{Name: "set", Key: "temp", Value: 0.7}},
		{"/set temperature 0", Command{Name: "set", Key: "temp", Value: 0}},
		{"/set top_p 1", Command{Name: "set", Key: "top_p", Value: 1}},
		{"/set top-p 0.25", Command{Name: "set", Key: "top_p", Value: 0.25}},
		{"/set top_k 40", Command{Name: "set", Key: "top_k", Value: 40}},
		{"/set presence -0.5", Command{Name: "set", Key: "presence", Value: -0.5}},
		{"/set frequency 1e-1", Command{Name: "set", Key: "frequency", Value: 0.1}},
		{"/set max_tokens 500", Command{Name: "set", Key: "max_tokens", Value: 500}},
		{"/set max-tokens=64", Command{Name: "set", Key: "max_tokens", Value: 64}},
		{"/think on", Command{Name: "think", Arg: "on"}},
		{"/think OFF", Command{Name: "think", Arg: "off"}},
		{"/think fake", Command{Name: "think", Arg: "fake"}},
		{"/read notes.txt", Command{Name: "read", Arg: "notes.txt"}},
		{`/read "my notes.txt"`, Command{Name: "read", Arg: "my notes.txt"}},
		{"/read 'a b'", Command{Name: "read", Arg: "a b"}},
		{"/save chat1", Command{Name: "save", Arg: "chat1"}},
		{"/load ~/chats/x.session", Command{Name: "load", Arg: "~/chats/x.session"}},
	}
	for _, tc := range tests {
		got, err := ParseCommand(tc.line)
		if err != nil {
			t.Errorf("ParseCommand(%q): %v", tc.line, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseCommand(%q) = %+v, want %+v", tc.line, got, tc.want)
		}
	}
}

func TestParseCommandErrors(t *testing.T) {
	tests := []struct{ line, want string }{
		{"hello", "not a command"},
		{"", "not a command"},
		{"/", "empty command"},
		{"/ help", "empty command"},
		{"/frobnicate", "unknown command /frobnicate; commands: /help /reset"},
		{"/re", "did you mean /reset or /regen or /read?"},
		{"/helpme", "did you mean /help?"},
		{"/reset now", "/reset takes no argument"},
		{"/bye bye", "/bye takes no argument"},
		{"/set", "usage: /set KEY VALUE, KEY one of temp, top_p, top_k, presence, frequency, max_tokens"},
		{"/set temp", "usage: /set KEY VALUE"},
		{"/set temp 1 2", "usage: /set KEY VALUE"},
		{"/set warmth 1", `unknown key "warmth"`},
		{"/set repetition_penalty 1.1", "not used by RWKV"},
		{"/set temp hot", `"hot" is not a number`},
		{"/set temp NaN", "is not a number"},
		{"/set temp inf", "is not a number"},
		{"/set temp -1", "negative"},
		{"/set top_p 1.5", "outside [0, 1]"},
		{"/set top_p -0.1", "outside [0, 1]"},
		{"/set top_k 2.5", "not a whole number ≥ 0"},
		{"/set top_k -1", "not a whole number ≥ 0"},
		{"/set max_tokens 0", "not a whole number ≥ 1"},
		{"/set max_tokens 1e12", "not a whole number ≥ 1"},
		{"/think", "usage: /think on|off"},
		{"/think maybe", `"maybe" is not on, off or fake`},
		{"/read", "usage: /read FILE"},
		{`/read ""`, "usage: /read FILE"},
		{"/save", "usage: /save NAME"},
		{"/load   ", "usage: /load NAME"},
	}
	for _, tc := range tests {
		_, err := ParseCommand(tc.line)
		if err == nil {
			t.Errorf("ParseCommand(%q) succeeded, want error containing %q", tc.line, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseCommand(%q) error %q, want it to contain %q", tc.line, err, tc.want)
		}
	}
}

func TestCommandNames(t *testing.T) {
	want := []string{"/help", "/reset", "/regen", "/system", "/set", "/think", "/read", "/save", "/load", "/stats", "/bye"}
	if got := CommandNames(); !slices.Equal(got, want) {
		t.Errorf("CommandNames() = %v", got)
	}
	for _, n := range want {
		if !strings.Contains(HelpText(), n) {
			t.Errorf("help text lacks %s", n)
		}
	}
	if got := SetKeys(); !slices.Equal(got, []string{"temp", "top_p", "top_k", "presence", "frequency", "max_tokens"}) {
		t.Errorf("SetKeys() = %v", got)
	}
	if !IsCommand("  /x") || IsCommand("x /y") || IsCommand("") {
		t.Error("IsCommand")
	}
}

func TestCommandStringRoundTrip(t *testing.T) {
	for _, c := range []Command{
		{Name: "help"},
		{Name: "system", Arg: "Be nice.\nAlways."},
		{Name: "system"},
		{Name: "set", Key: "top_p", Value: 0.3},
		{Name: "set", Key: "temp", Value: 1.0 / 3},
		{Name: "think", Arg: "fake"},
		{Name: "read", Arg: " spaced name "},
		{Name: "save", Arg: `"quoted"`},
		{Name: "load", Arg: "'x'"},
	} {
		got, err := ParseCommand(c.String())
		if err != nil || got != c {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", c.String(), got, err, c)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"/help", "/set temp 0.7", "/set top_k=3", "/system  hi  ", "/read \"a b\"", "/think on",
		"/save x", "/load 'y'", "/bye", "/", "", "/set max_tokens 1e3", "/set top_p 0x1p-2", "/re",
		"/\u00a0help", "/system\u2028x", "/read \"\"\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := ParseCommand(line)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			if c != (Command{}) {
				t.Fatalf("error with non-zero command %+v", c)
			}
			return
		}
		if !IsCommand(line) {
			t.Fatalf("%q parsed but IsCommand is false", line)
		}
		if !slices.Contains(CommandNames(), "/"+c.Name) {
			t.Fatalf("%q: unknown name %q", line, c.Name)
		}
		if c.Name == "set" {
			if !slices.Contains(setKeys, c.Key) || math.IsNaN(c.Value) || math.IsInf(c.Value, 0) || CheckSetting(c.Key, c.Value) != nil {
				t.Fatalf("%q: bad /set %+v", line, c)
			}
		} else if c.Key != "" || c.Value != 0 {
			t.Fatalf("%q: Key/Value set for /%s", line, c.Name)
		}
		switch c.Name {
		case "read", "save", "load":
			if c.Arg == "" {
				t.Fatalf("%q: empty argument", line)
			}
		case "think":
			if c.Arg != "on" && c.Arg != "off" && c.Arg != "fake" {
				t.Fatalf("%q: think %q", line, c.Arg)
			}
		case "system":
			if c.Arg != strings.TrimSpace(c.Arg) {
				t.Fatalf("%q: untrimmed system %q", line, c.Arg)
			}
		default:
			if c.Arg != "" {
				t.Fatalf("%q: argument %q", line, c.Arg)
			}
		}
		again, err := ParseCommand(c.String())
		if err != nil || again != c {
			t.Fatalf("round trip of %q via %q: %+v, %v; want %+v", line, c.String(), again, err, c)
		}
	})
}
