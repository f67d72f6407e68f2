package hub

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// The built-in catalogue holds the figures of issue 6.
func TestBuiltinCatalog(t *testing.T) {
	c := Builtin()
	want := []Entry{
		{Name: "rwkv7-g1d-0.1b", File: "rwkv7-g1d-0.1b-20260129-ctx8192.pth", Size: 382223725, SHA256: "e10d7b1930c2644c5c6b194444774d6d82ec8212a78763493149de09aac7d83f"},
		{Name: "rwkv7-g1d-0.4b", File: "rwkv7-g1d-0.4b-20260210-ctx8192.pth", Size: 901776749, SHA256: "947cb9b8013224e06b112b72204256bec65096cc935a7767ce63d8e3ddef83bb"},
		{Name: "rwkv7-g1e-1.5b", File: "rwkv7-g1e-1.5b-20260309-ctx8192.pth", Size: 3055445693, SHA256: "f1201399df6e0c14aaecb4796e7e099b721471ba1aa2762b0fd9a14c7a5b3720"},
	}
	if len(c.Models) != len(want) {
		t.Fatalf("%d models, want %d", len(c.Models), len(want))
	}
	for i, w := range want {
		g := c.Models[i]
		if g.Name != w.Name || g.File != w.File || g.Size != w.Size || g.SHA256 != w.SHA256 ||
			g.Repo != "BlinkDL/rwkv7-g1" || g.Version != "7" || g.Template != "g1" || g.Tokenizer != "world" {
			t.Errorf("model %d: %+v", i, g)
		}
	}
	tok, ok := c.Lookup("world")
	if !ok || tok.File != "rwkv_vocab_v20230424.txt" || tok.Size != 1093733 ||
		tok.SHA256 != "e6dee3d4e31b4d5c40ac99508ac6c701ceef4bed681bf2167ce9a908552bca89" ||
		tok.URL != "https://raw.githubusercontent.com/BlinkDL/ChatRWKV/main/tokenizer/rwkv_vocab_v20230424.txt" {
		t.Errorf("tokenizer %+v", tok)
	}
	if c.Default != "rwkv7-g1d-0.1b" {
		t.Errorf("default %q", c.Default)
	}
	if Current() == Builtin() && DefaultModel().File != "rwkv7-g1d-0.1b-20260129-ctx8192.pth" {
		t.Errorf("DefaultModel %+v", DefaultModel())
	}
}

func TestCatalogValidate(t *testing.T) {
	good := `{"default":"m","models":[{"name":"m","file":"m.pth","repo":"a/b","size":1,"sha256":"` + strings.Repeat("0", 64) + `","tokenizer":"w"}],
		"tokenizers":[{"name":"w","file":"w.txt","url":"https://x/w.txt","size":1,"sha256":"` + strings.Repeat("1", 64) + `"}]}`
	if _, err := ParseCatalog([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ from, to, msg string }{
		{`"default":"m"`, `"default":"x"`, "default"},
		{`"default":"m"`, `"default":"w"`, "default"},
		{`"file":"m.pth"`, `"file":"../m.pth"`, "separator"},
		{`"file":"m.pth"`, `"file":"w.txt"`, "twice"},
		{`"file":"m.pth"`, `"file":"m.pth.partial"`, ".partial"},
		{`"size":1,"sha256":"0`, `"size":0,"sha256":"0`, "size"},
		{`"sha256":"0000`, `"sha256":"A000`, "sha256"},
		{`"tokenizer":"w"`, `"tokenizer":"v"`, "not listed"},
		{`"repo":"a/b"`, `"repo":"a"`, "OWNER/NAME"},
		{`"repo":"a/b"`, `"url":"ftp://x"`, "http"},
		{`"repo":"a/b"`, `"repo":"a/b","url":"https://x"`, "exactly one"},
		{`"name":"m"`, `"name":"m","extra":1`, "unknown field"},
	} {
		s := strings.Replace(good, bad.from, bad.to, 1)
		if s == good {
			t.Fatalf("%q not found", bad.from)
		}
		if _, err := ParseCatalog([]byte(s)); err == nil || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("%s → %s: error %v, want %q", bad.from, bad.to, err, bad.msg)
		}
	}
}

func TestParseRef(t *testing.T) {
	c := Builtin()
	const ep = DefaultEndpoint
	model := "https://huggingface.co/BlinkDL/rwkv7-g1/resolve/main/rwkv7-g1d-0.1b-20260129-ctx8192.pth"
	for _, tc := range []struct {
		ref, file, url, name string
		hub                  bool
	}{
		{"", "rwkv7-g1d-0.1b-20260129-ctx8192.pth", model, "rwkv7-g1d-0.1b", true},
		{"rwkv7-g1d-0.1b", "rwkv7-g1d-0.1b-20260129-ctx8192.pth", model, "rwkv7-g1d-0.1b", true},
		{"rwkv7-g1d-0.1b-20260129-ctx8192.pth", "rwkv7-g1d-0.1b-20260129-ctx8192.pth", model, "rwkv7-g1d-0.1b", true},
		{"hf.co/BlinkDL/rwkv7-g1/rwkv7-g1d-0.1b-20260129-ctx8192.pth", "rwkv7-g1d-0.1b-20260129-ctx8192.pth", model, "rwkv7-g1d-0.1b", true},
		{model, "rwkv7-g1d-0.1b-20260129-ctx8192.pth", model, "rwkv7-g1d-0.1b", true},
		{"https://huggingface.co/BlinkDL/rwkv7-g1/blob/main/rwkv7-g1d-0.1b-20260129-ctx8192.pth", "rwkv7-g1d-0.1b-20260129-ctx8192.pth", model, "rwkv7-g1d-0.1b", true},
		{"world", "rwkv_vocab_v20230424.txt", "https://raw.githubusercontent.com/BlinkDL/ChatRWKV/main/tokenizer/rwkv_vocab_v20230424.txt", "world", false},
		{"hf.co/a/b/c.gguf", "c.gguf", "https://huggingface.co/a/b/resolve/main/c.gguf", "", true},
		{"huggingface.co/a/b/sub/dir/c d.gguf", "c d.gguf", "https://huggingface.co/a/b/resolve/main/sub/dir/c%20d.gguf", "", true},
		{"hf.co/a/b/resolve/v1.0/c.gguf", "c.gguf", "https://huggingface.co/a/b/resolve/v1.0/c.gguf", "", true},
		{"https://example.com/x/model.bin?download=1", "model.bin", "https://example.com/x/model.bin?download=1", "", false},
	} {
		tg, err := parseRef(tc.ref, c, ep, false)
		if err != nil {
			t.Errorf("%q: %v", tc.ref, err)
			continue
		}
		name := ""
		if tg.entry != nil {
			name = tg.entry.Name
		}
		if tg.file != tc.file || tg.url != tc.url || name != tc.name || tg.hub != tc.hub {
			t.Errorf("%q: file %q url %q entry %q hub %v; want %q %q %q %v", tc.ref, tg.file, tg.url, name, tg.hub, tc.file, tc.url, tc.name, tc.hub)
		}
	}
	for _, bad := range []string{"nope", "hf.co/a/b", "hf.co/a/b/..", "hf.co/a/b/x/../y", "https://u:p@example.com/m.pth", "https://example.com/", "hf.co/a/b/.hidden", "ftp://x/y"} {
		if _, err := parseRef(bad, c, ep, false); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if tg, err := parseRef("local.gguf", c, ep, true); err != nil || tg.file != "local.gguf" || tg.url != "" {
		t.Errorf("bare name: %+v, %v", tg, err)
	}
}

func TestContentRange(t *testing.T) {
	for _, tc := range []struct {
		s            string
		first, total int64
		ok           bool
	}{
		{"bytes 100-199/200", 100, 200, true},
		{"bytes 0-0/*", 0, 0, true},
		{"bytes */5000", 0, 5000, true},
		{"items 1-2/3", 0, 0, false},
		{"bytes 1-2", 0, 0, false},
		{"bytes x-2/3", 0, 0, false},
	} {
		f, n, ok := contentRange(tc.s)
		if f != tc.first || n != tc.total || ok != tc.ok {
			t.Errorf("%q: %d %d %v", tc.s, f, n, ok)
		}
	}
}

func TestLooksHTML(t *testing.T) {
	for s, want := range map[string]bool{
		"<!DOCTYPE html>":       true,
		"\xef\xbb\xbf  <HTML>":  true,
		"\n\n<html lang=en>":    true,
		"PK\x03\x04":            false,
		"1 '\\x00' 1":           false,
		"":                      false,
		"<?xml version='1.0'?>": false,
	} {
		if looksHTML([]byte(s)) != want {
			t.Errorf("%q: %v", s, !want)
		}
	}
	if !isHTML("text/html; charset=utf-8") || isHTML("application/octet-stream") || isHTML("") {
		t.Error("isHTML")
	}
}

// fakeClock advances by step on every reading.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time { c.t = c.t.Add(c.step); return c.t }

func TestProgressTTY(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Unix(0, 0), step: time.Second}
	p := newProgress(&buf, true, 80, clk.now)
	p.begin("rwkv7-g1d-0.1b-20260129-ctx8192.pth", "huggingface.co", 0, 100_000_000)
	for i := 0; i < 10; i++ {
		p.Write(make([]byte, 5_000_000))
	}
	p.end()
	out := buf.String()
	if !strings.HasPrefix(out, "Downloading rwkv7-g1d-0.1b-20260129-ctx8192.pth (100.0 MB) from huggingface.co\n") {
		t.Errorf("start: %q", out)
	}
	frames := strings.Split(strings.TrimSuffix(out[strings.IndexByte(out, '\n')+1:], "\n"), "\r")
	if len(frames) < 10 {
		t.Fatalf("%d frames: %q", len(frames), out)
	}
	for _, f := range frames[1:] {
		if n := len([]rune(f)); n > 79 {
			t.Errorf("frame of %d columns: %q", n, f)
		}
	}
	last := frames[len(frames)-1]
	for _, s := range []string{"50%", "50.0 MB / 100.0 MB", "MB/s", "ETA", "[====="} {
		if !strings.Contains(last, s) {
			t.Errorf("last frame %q lacks %q", last, s)
		}
	}
	// A narrow terminal shortens the name and keeps the numbers.
	buf.Reset()
	p = newProgress(&buf, true, 60, clk.now)
	p.begin("a-very-long-model-file-name-that-does-not-fit-anywhere.gguf", "h", 0, 1000)
	p.Write(make([]byte, 500))
	p.end()
	frames = strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\r")
	for _, f := range frames[1:] {
		if n := len([]rune(f)); n > 59 {
			t.Errorf("narrow frame (%d columns): %q", n, f)
		}
	}
	if last := frames[len(frames)-1]; !strings.Contains(last, "500 B / 1.0 kB") || !strings.HasPrefix(last, "a-very") {
		t.Errorf("narrow frame %q", last)
	}
}

func TestProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Unix(0, 0), step: time.Second}
	p := newProgress(&buf, false, 0, clk.now)
	p.begin("m.pth", "example.com", 1_000_000, 11_000_000)
	for i := 0; i < 10; i++ {
		p.Write(make([]byte, 1_000_000))
	}
	p.end()
	out := buf.String()
	if strings.Contains(out, "\r") {
		t.Errorf("carriage return in plain output: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	// The start, one line every 5 s of the (fake) 10 s, the summary.
	if len(lines) != 4 {
		t.Fatalf("lines: %q", lines)
	}
	if lines[0] != "Resuming m.pth (11.0 MB) at 1.0 MB from example.com" {
		t.Errorf("start %q", lines[0])
	}
	if !strings.HasPrefix(lines[1], "m.pth: 6.0 MB / 11.0 MB (54%), 833.3 kB/s, 6s left") {
		t.Errorf("periodic line %q", lines[1])
	}
	if !strings.HasPrefix(lines[3], "m.pth: 10.0 MB in ") {
		t.Errorf("summary %q", lines[3])
	}
}

func TestFormat(t *testing.T) {
	for n, s := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 382223725: "382.2 MB", 3055445693: "3.06 GB"} {
		if formatBytes(n) != s {
			t.Errorf("formatBytes(%d) = %q, want %q", n, formatBytes(n), s)
		}
	}
	for d, s := range map[time.Duration]string{5 * time.Second: "5s", 125 * time.Second: "2m05s", 3*time.Hour + 7*time.Minute: "3h07m"} {
		if formatDuration(d) != s {
			t.Errorf("formatDuration(%v) = %q, want %q", d, formatDuration(d), s)
		}
	}
}
