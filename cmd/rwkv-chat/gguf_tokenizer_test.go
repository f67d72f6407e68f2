package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/synth"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
	"github.com/rwkv-chat/rwkv-chat/internal/tokenizer"
)

// TestGGUFStoredTokenizer: a GGUF file carries its World vocabulary, and
// `run` uses it with no vocab file anywhere to be found.
func TestGGUFStoredTokenizer(t *testing.T) {
	vocab := testutil.Path(t, "tokenizers", "rwkv_vocab_v20230424.txt")
	quantizeEnv(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "world.bin")
	if err := synth.Write(src, synth.Spec{Arch: 7, Layers: 1, Embd: 64, Vocab: 65536, HeadSize: 32, Type: tensor.F16}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "world.gguf")
	if code, _, stderr := runQuantizeCLI(t, src, out, "--type", "f16", "--tokenizer", vocab); code != 0 {
		t.Fatalf("quantize: %s", stderr)
	}
	code, stdout, stderr := runCLI(t, "", "run", "--model", out, "--template", "raw", "--temperature", "0",
		"--max-tokens", "1", "--prompt", "Hello world", "--json")
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	var r runResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	w, err := tokenizer.LoadWorld(vocab)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(w.Encode([]byte("Hello world"))); r.PromptTokens != want || want != 2 {
		t.Fatalf("prompt tokens %d, want %d (World ids 33155 40213)", r.PromptTokens, want)
	}
	os.Remove(src)
}
