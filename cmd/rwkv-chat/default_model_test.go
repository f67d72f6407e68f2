package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/hub"
	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
)

// TestDefaultModel: with no --model, an empty cache gives the exact pull
// command and exit 1; once the default model is cached, it is used.
func TestDefaultModel(t *testing.T) {
	src := testutil.Path(t, "models", "tiny", "tiny-rwkv-7v0-834K-FP32.bin")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(data)
	restore := hub.UseCatalog(&hub.Catalog{
		Default: "tiny7",
		Models: []hub.Entry{{Name: "tiny7", File: "tiny7.bin", Repo: "Test/tiny", Size: int64(len(data)),
			SHA256: hex.EncodeToString(h[:]), Version: "7", Template: "raw", Tokenizer: "bytes"}},
		Tokenizers: []hub.Entry{{Name: "bytes", File: "unused.txt", URL: "http://127.0.0.1:9/unused.txt", Size: 1, SHA256: strings.Repeat("0", 64)}},
	})
	defer restore()
	home := t.TempDir()
	t.Setenv("RWKV_CHAT_HOME", home)
	t.Setenv("RWKV_CHAT_OFFLINE", "")

	code, _, stderr := runCLI(t, "", "run", "--prompt", "hello", "--max-tokens", "4")
	if code != exitError || !strings.Contains(stderr, "rwkv-chat pull tiny7") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("empty cache: exit %d, stderr %q", code, stderr)
	}
	if err := os.WriteFile(filepath.Join(home, "tiny7.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, "", "run", "--prompt", "hello", "--template", "raw", "--temperature", "0", "--max-tokens", "4")
	if code != 0 || len(out) != 4 {
		t.Fatalf("cached default: exit %d, out %q, stderr %q", code, out, stderr)
	}
	code, out, _ = runCLI(t, "", "run", "--model", "tiny7", "--prompt", "hello", "--template", "raw", "--temperature", "0", "--max-tokens", "4")
	if code != 0 || len(out) != 4 {
		t.Fatalf("--model NAME: exit %d, out %q", code, out)
	}
}
