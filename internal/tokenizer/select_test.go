package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// miniWorld writes a World vocabulary of the 256 bytes plus extra tokens
// (so that tests can tell files apart by VocabSize).
func miniWorld(t *testing.T, dir string, extra int) string {
	t.Helper()
	var sb strings.Builder
	for b := 0; b < 256; b++ {
		sb.WriteString(itoa(b+1) + " b'\\x" + hex2(b) + "' 1\n")
	}
	for i := 0; i < extra; i++ {
		sb.WriteString(itoa(257+i) + " 'x" + itoa(i) + "' " + itoa(1+len(itoa(i))) + "\n")
	}
	p := filepath.Join(dir, WorldFile)
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const miniNeoXJSON = `{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]},
	"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false},"normalizer":{"type":"NFC"}}`

func miniNeoX(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, NeoXFile)
	if err := os.WriteFile(p, []byte(miniNeoXJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// isolate clears the environment Select reads and returns an empty cache dir.
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv(EnvHome, home)
	t.Setenv(EnvTokenizer, "")
	return home
}

func mustSelect(t *testing.T, vocab int, override, model string) Tokenizer {
	t.Helper()
	tok, err := Select(vocab, override, model)
	if err != nil {
		t.Fatalf("Select(%d, %q, %q): %v", vocab, override, model, err)
	}
	return tok
}

func selectErr(t *testing.T, vocab int, override, model string, want ...string) {
	t.Helper()
	_, err := Select(vocab, override, model)
	if err == nil {
		t.Fatalf("Select(%d, %q, %q): no error", vocab, override, model)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Select(%d, %q, %q) error %q lacks %q", vocab, override, model, err, w)
		}
	}
}

func TestSelectByVocab(t *testing.T) {
	isolate(t)
	modelDir := t.TempDir()
	model := filepath.Join(modelDir, "model.pth")
	miniWorld(t, modelDir, 3)
	miniNeoX(t, modelDir)

	if tok := mustSelect(t, 65536, "", model); tok.Name() != "world" || tok.VocabSize() != 260 {
		t.Errorf("65536 → %s %d", tok.Name(), tok.VocabSize())
	}
	for _, v := range []int{50277, 50304} {
		if tok := mustSelect(t, v, "", model); tok.Name() != "neox" {
			t.Errorf("%d → %s", v, tok.Name())
		}
	}
	if tok := mustSelect(t, 256, "", ""); tok.Name() != "bytes" {
		t.Errorf("256 → %s", tok.Name())
	}
	selectErr(t, 0, "", model, "--tokenizer")
	selectErr(t, 12345, "", model, "12345", "--tokenizer")
}

func TestSelectSearchOrder(t *testing.T) {
	home := isolate(t)
	envDir, modelDir := t.TempDir(), t.TempDir()
	model := filepath.Join(modelDir, "m.bin")

	// Nothing anywhere: the error lists every place and how to get the file.
	selectErr(t, 65536, "", model, WorldFile, "$"+EnvTokenizer, filepath.Join(modelDir, WorldFile),
		filepath.Join(home, WorldFile), "rwkv-chat pull", WorldURL)
	selectErr(t, 50277, "", model, NeoXFile, NeoXURL)

	// Cache (RWKV_CHAT_HOME), also its tokenizers/ subdirectory.
	if err := os.MkdirAll(filepath.Join(home, "tokenizers"), 0o755); err != nil {
		t.Fatal(err)
	}
	miniWorld(t, filepath.Join(home, "tokenizers"), 1)
	if tok := mustSelect(t, 65536, "", model); tok.VocabSize() != 258 {
		t.Errorf("cache/tokenizers: VocabSize %d", tok.VocabSize())
	}
	miniWorld(t, home, 2)
	if tok := mustSelect(t, 65536, "", model); tok.VocabSize() != 259 {
		t.Errorf("cache: VocabSize %d", tok.VocabSize())
	}
	// Next to the model beats the cache.
	miniWorld(t, modelDir, 3)
	if tok := mustSelect(t, 65536, "", model); tok.VocabSize() != 260 {
		t.Errorf("model dir: VocabSize %d", tok.VocabSize())
	}
	// The environment beats the model's directory: a directory…
	t.Setenv(EnvTokenizer, envDir)
	miniWorld(t, envDir, 4)
	if tok := mustSelect(t, 65536, "", model); tok.VocabSize() != 261 {
		t.Errorf("env dir: VocabSize %d", tok.VocabSize())
	}
	// …or a file, used only for its own kind.
	envFile := filepath.Join(t.TempDir(), "my-vocab.txt")
	data, _ := os.ReadFile(filepath.Join(envDir, WorldFile))
	if err := os.WriteFile(envFile, append(data, "261 'zz' 2\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvTokenizer, envFile)
	if tok := mustSelect(t, 65536, "", model); tok.VocabSize() != 262 {
		t.Errorf("env file: VocabSize %d", tok.VocabSize())
	}
	selectErr(t, 50277, "", model, envFile, "not neox", NeoXFile)
	// The override path beats everything.
	p := miniWorld(t, t.TempDir(), 7)
	if tok := mustSelect(t, 65536, p, model); tok.VocabSize() != 264 {
		t.Errorf("override: VocabSize %d", tok.VocabSize())
	}
}

func TestSelectOverride(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	world := miniWorld(t, dir, 0)
	neox := miniNeoX(t, dir)
	model := filepath.Join(dir, "m.pth")

	// By name.
	if tok := mustSelect(t, 0, "world", model); tok.Name() != "world" {
		t.Error(tok.Name())
	}
	if tok := mustSelect(t, 0, "neox", model); tok.Name() != "neox" {
		t.Error(tok.Name())
	}
	if tok := mustSelect(t, 0, "bytes", ""); tok.Name() != "bytes" {
		t.Error(tok.Name())
	}
	// By path, the kind read from the file.
	if tok := mustSelect(t, 0, neox, ""); tok.Name() != "neox" {
		t.Error(tok.Name())
	}
	if tok := mustSelect(t, 65536, world, ""); tok.Name() != "world" {
		t.Error(tok.Name())
	}
	// Unknown vocabulary sizes take an explicit tokenizer that fits.
	if tok := mustSelect(t, 1000, world, ""); tok.Name() != "world" {
		t.Error(tok.Name())
	}
	selectErr(t, 100, world, "", "100")

	// A World model with the NeoX vocabulary, or the reverse: refused.
	selectErr(t, 65536, neox, model, "refusing", "65536", "World")
	selectErr(t, 65536, "neox", model, "refusing", "World")
	selectErr(t, 50277, world, model, "refusing", "GPT-NeoX")
	selectErr(t, 50304, "world", model, "refusing")
	selectErr(t, 256, "world", model, "refusing")
	selectErr(t, 65536, "bytes", model, "refusing")

	// A directory: the file the model needs, from it.
	if tok := mustSelect(t, 50277, dir, ""); tok.Name() != "neox" {
		t.Error(tok.Name())
	}
	if tok := mustSelect(t, 65536, dir, ""); tok.Name() != "world" {
		t.Error(tok.Name())
	}
	selectErr(t, 65536, t.TempDir(), "", WorldFile, "rwkv-chat pull")

	// Bad paths.
	selectErr(t, 0, filepath.Join(dir, "missing.txt"), "", "missing.txt")
	selectErr(t, 0, dir, "", "directory")
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	selectErr(t, 0, junk, "", "neither")
}

func TestSelectReal(t *testing.T) {
	isolate(t)
	dir := testdata(t, "tokenizers")
	model := filepath.Join(dir, "model.pth") // need not exist
	if tok := mustSelect(t, 65536, "", model); tok.Name() != "world" || tok.VocabSize() != 65530 {
		t.Errorf("%s %d", tok.Name(), tok.VocabSize())
	}
	if tok := mustSelect(t, 50304, "", model); tok.Name() != "neox" || len(Mask(tok, 50304)) != 27 {
		t.Errorf("%s", tok.Name())
	}
	selectErr(t, 65536, filepath.Join(dir, NeoXFile), "", "refusing")
	selectErr(t, 50277, filepath.Join(dir, WorldFile), "", "refusing")
}
