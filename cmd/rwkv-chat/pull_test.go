package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/hub"
)

// pullHub is a local stand-in for the Hugging Face Hub: /OWNER/REPO/resolve/
// main/FILE redirects to /cdn/FILE, /raw/FILE serves a file directly.
type pullHub struct {
	srv   *httptest.Server
	files map[string][]byte
	dir   string
	model []byte
	vocab []byte

	mu   sync.Mutex
	hits int
}

func newPullHub(t *testing.T) *pullHub {
	t.Helper()
	h := &pullHub{files: map[string][]byte{}, dir: filepath.Join(t.TempDir(), "cache")}
	h.model = bytes.Repeat([]byte("tiny rwkv weights "), 4000)
	h.vocab = []byte("1 'a' 1\n2 'b' 1\n")
	h.files["tiny.pth"] = h.model
	h.files["vocab.txt"] = h.vocab
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.hits++
		h.mu.Unlock()
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		switch {
		case len(parts) == 5 && parts[2] == "resolve":
			data, ok := h.files[parts[4]]
			if !ok {
				http.Error(w, "Entry not found", http.StatusNotFound)
				return
			}
			w.Header().Set("X-Linked-Size", strconv.Itoa(len(data)))
			w.Header().Set("X-Linked-Etag", `"`+sum(data)+`"`)
			http.Redirect(w, r, "/cdn/"+parts[4], http.StatusFound)
		case len(parts) == 2 && (parts[0] == "cdn" || parts[0] == "raw"):
			data, ok := h.files[parts[1]]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(data)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(h.srv.Close)
	cat := &hub.Catalog{
		Default: "tiny",
		Models: []hub.Entry{{
			Name: "tiny", Description: "a tiny test model", File: "tiny.pth", Repo: "Test/tiny",
			Size: int64(len(h.model)), SHA256: sum(h.model), Version: "7", Template: "g1", Tokenizer: "world",
		}, {
			Name: "big", Description: "not cached", File: "big.pth", Repo: "Test/big",
			Size: 1 << 30, SHA256: strings.Repeat("0", 64), Version: "7", Template: "g1", Tokenizer: "world",
		}},
		Tokenizers: []hub.Entry{{
			Name: "world", File: "vocab.txt", URL: h.srv.URL + "/raw/vocab.txt",
			Size: int64(len(h.vocab)), SHA256: sum(h.vocab),
		}},
	}
	t.Cleanup(hub.UseCatalog(cat))
	t.Setenv(hub.EnvHome, h.dir)
	t.Setenv(hub.EnvEndpoint, h.srv.URL)
	for _, k := range []string{hub.EnvToken, hub.EnvOffline} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)  // unset, not empty: flags are read from RWKV_CHAT_*
	}
	return h
}

func (h *pullHub) requests() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = execute(args, &streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestPullCommandDefault(t *testing.T) {
	h := newPullHub(t)
	code, out, errOut := run("pull")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	want := filepath.Join(h.dir, "tiny.pth")
	if strings.TrimSpace(out) != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	for _, name := range []string{"tiny.pth", "vocab.txt"} {
		if _, err := os.Stat(filepath.Join(h.dir, name)); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(errOut, "Downloading tiny.pth") || !strings.Contains(errOut, "SHA-256 verified") {
		t.Errorf("stderr:\n%s", errOut)
	}
	if strings.Contains(errOut, "\r") {
		t.Errorf("a bar drawn on a stderr that is not a terminal:\n%q", errOut)
	}

	// Offline, a cached model is found without a request.
	before := h.requests()
	code, out, errOut = run("pull", "--offline", "tiny")
	if code != exitOK || strings.TrimSpace(out) != want || h.requests() != before {
		t.Errorf("offline pull: exit %d, stdout %q, stderr %q, %d requests", code, out, errOut, h.requests()-before)
	}
}

func TestPullCommandHubRef(t *testing.T) {
	h := newPullHub(t)
	h.files["other.gguf"] = []byte("GGUF and some bytes")
	code, out, errOut := run("pull", "hf.co/Someone/other/other.gguf")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	if strings.TrimSpace(out) != filepath.Join(h.dir, "other.gguf") {
		t.Errorf("stdout %q", out)
	}
}

func TestPullCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		msg  string
	}{
		{"offline flag", nil, []string{"pull", "--offline"}, exitError, "fetch it with: rwkv-chat pull tiny"},
		{"offline env", map[string]string{hub.EnvOffline: "1"}, []string{"pull", "tiny"}, exitError, "fetch it with: rwkv-chat pull tiny"},
		{"404", nil, []string{"pull", "hf.co/Someone/other/missing.pth"}, exitError, "404"},
		{"unknown", nil, []string{"pull", "nope"}, exitError, `unknown model "nope"`},
		{"two args", nil, []string{"pull", "a", "b"}, exitUsage, "accepts at most 1 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newPullHub(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, out, errOut := run(tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if out != "" {
				t.Errorf("stdout %q", out)
			}
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "rwkv-chat: ") || !strings.Contains(last, tc.msg) {
				t.Errorf("stderr %q, want a last line with %q", errOut, tc.msg)
			}
			if strings.HasPrefix(tc.name, "offline") && h.requests() != 0 {
				t.Errorf("offline mode made %d requests", h.requests())
			}
			if _, err := os.Stat(filepath.Join(h.dir, "tiny.pth")); err == nil {
				t.Error("a file appeared")
			}
		})
	}
}

func TestModelsCommand(t *testing.T) {
	h := newPullHub(t)
	code, out, errOut := run("models")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "No files in the cache "+h.dir) || !strings.Contains(out, "  tiny  ") || strings.Contains(out, "* tiny") {
		t.Errorf("empty cache:\n%s", out)
	}

	if code, _, errOut := run("pull", "tiny"); code != exitOK {
		t.Fatalf("pull: %s", errOut)
	}
	os.WriteFile(filepath.Join(h.dir, "mine.gguf"), []byte("12345"), 0o644)
	os.WriteFile(filepath.Join(h.dir, "big.pth.partial"), []byte("123"), 0o644)
	code, out, errOut = run("models")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, re := range []string{
		"Cached in " + h.dir,
		"tiny.pth ",
		hub.FormatSize(int64(len(h.model))) + "  tiny (default)",
		"vocab.txt",
		"tokenizer world",
		"mine.gguf",
		"big.pth.partial",
		"rwkv-chat pull big resumes it",
		"* tiny",
		"  big",
		"a tiny test model (default)",
	} {
		if !strings.Contains(out, re) {
			t.Errorf("models output lacks %q:\n%s", re, out)
		}
	}
	if strings.Contains(out, "* big") {
		t.Errorf("a partial file marked as cached:\n%s", out)
	}
}
