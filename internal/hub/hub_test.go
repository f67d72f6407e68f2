package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeHub imitates the Hugging Face Hub: /OWNER/REPO/resolve/main/FILE
// answers 302 to /cdn/FILE (on the same server, or on a second server
// reached as "localhost", like the Hub's CDN) with X-Linked-Size and
// X-Linked-Etag; /cdn/ and /raw/ serve the bytes with Range support.
type fakeHub struct {
	t    *testing.T
	srv  *httptest.Server
	cdn  *httptest.Server // the cross-host CDN
	repo map[string][]byte

	mu   sync.Mutex
	reqs []request
	// Knobs, all off by default.
	cutAfter     int64             // first body served stops after this many bytes
	cutDone      bool              // the cut happened
	ignoreRange  bool              // answer 200 to Range requests
	chunked      bool              // no Content-Length
	crossHost    bool              // redirect to the CDN server on "localhost"
	linkedSize   string            // X-Linked-Size to send instead of the true one
	linkedEtag   string            // X-Linked-Etag to send instead of the true one
	noLinked     bool              // send no X-Linked-* headers
	status       int               // answer every /resolve/ with this status
	contentType  string            // Content-Type of the bytes
	override     map[string][]byte // bytes served instead of the file's own
	needToken    string            // /resolve/ demands "Bearer needToken"
	failFirst    int               // answer 503 to this many first requests
	stall        chan struct{}     // after half the body, wait for this to close
	stallStarted chan struct{}
}

type request struct {
	host, path, rng, auth string
}

func newFakeHub(t *testing.T) *fakeHub {
	f := &fakeHub{t: t, repo: map[string][]byte{}, override: map[string][]byte{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.cdn = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	t.Cleanup(f.cdn.Close)
	return f
}

// add publishes data as repo/file (repo "" for /raw/file only).
func (f *fakeHub) add(repo, file string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.repo[file] = data
	_ = repo
}

func (f *fakeHub) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

func (f *fakeHub) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reqs = append(f.reqs, request{host: r.Host, path: r.URL.Path, rng: r.Header.Get("Range"), auth: r.Header.Get("Authorization")})
	failing := f.failFirst > 0
	if failing {
		f.failFirst--
	}
	f.mu.Unlock()
	if failing {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch {
	case len(parts) >= 5 && parts[2] == "resolve":
		file := parts[len(parts)-1]
		if f.needToken != "" && r.Header.Get("Authorization") != "Bearer "+f.needToken {
			code := http.StatusUnauthorized
			if r.Header.Get("Authorization") != "" {
				code = http.StatusForbidden
			}
			http.Error(w, "Access to this model is restricted", code)
			return
		}
		if f.status != 0 {
			http.Error(w, http.StatusText(f.status), f.status)
			return
		}
		f.mu.Lock()
		data, ok := f.repo[file]
		f.mu.Unlock()
		if !ok {
			http.Error(w, "Entry not found", http.StatusNotFound)
			return
		}
		if !f.noLinked {
			size, etag := strconv.Itoa(len(data)), `"`+sha(data)+`"`
			if f.linkedSize != "" {
				size = f.linkedSize
			}
			if f.linkedEtag != "" {
				etag = f.linkedEtag
			}
			w.Header().Set("X-Linked-Size", size)
			w.Header().Set("X-Linked-Etag", etag)
		}
		to := "/cdn/" + file
		if f.crossHost {
			to = strings.Replace(f.cdn.URL, "127.0.0.1", "localhost", 1) + to
		}
		http.Redirect(w, r, to, http.StatusFound)
	case len(parts) == 2 && (parts[0] == "cdn" || parts[0] == "raw"):
		f.serveBytes(w, r, parts[1])
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeHub) serveBytes(w http.ResponseWriter, r *http.Request, file string) {
	f.mu.Lock()
	data, ok := f.repo[file]
	if o, has := f.override[file]; has {
		data, ok = o, true
	}
	cut := int64(0)
	if f.cutAfter > 0 && !f.cutDone {
		cut, f.cutDone = f.cutAfter, true
	}
	f.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	ct := f.contentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	start := int64(0)
	if rng := r.Header.Get("Range"); rng != "" && !f.ignoreRange {
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(rng, "bytes="), "-"), 10, 64)
		if err != nil {
			http.Error(w, "bad range", http.StatusBadRequest)
			return
		}
		if n >= int64(len(data)) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start = n
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(data)-1, len(data)))
	}
	body := data[start:]
	if !f.chunked {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	if start > 0 {
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.WriteHeader(http.StatusOK)
	}
	if cut > 0 && cut < int64(len(body)) {
		w.Write(body[:cut])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drops the connection
	}
	if f.stall != nil {
		half := len(body) / 2
		w.Write(body[:half])
		w.(http.Flusher).Flush()
		close(f.stallStarted)
		<-f.stall
		panic(http.ErrAbortHandler)
	}
	w.Write(body)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// fixture is a fake hub with a tiny model and vocabulary in a test
// catalogue, an empty cache in RWKV_CHAT_HOME and HF_ENDPOINT pointing at
// the fake hub.
type fixture struct {
	*fakeHub
	dir          string
	model, vocab []byte
	cat          *Catalog
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	fx := &fixture{fakeHub: newFakeHub(t), dir: filepath.Join(t.TempDir(), "cache")}
	fx.model = make([]byte, 300_000)
	for i := range fx.model {
		fx.model[i] = byte(i*7 + i>>9)
	}
	fx.vocab = []byte("1 '\\x00' 1\n2 '\\x01' 1\n3 'a' 1\n")
	fx.add("Test/rwkv-tiny", "tiny-model.pth", fx.model)
	fx.add("", "test_vocab.txt", fx.vocab)
	fx.cat = &Catalog{
		Default: "tiny",
		Models: []Entry{{
			Name: "tiny", File: "tiny-model.pth", Repo: "Test/rwkv-tiny",
			Size: int64(len(fx.model)), SHA256: sha(fx.model),
			Version: "7", Template: "g1", Tokenizer: "world",
		}},
		Tokenizers: []Entry{{
			Name: "world", File: "test_vocab.txt", URL: fx.srv.URL + "/raw/test_vocab.txt",
			Size: int64(len(fx.vocab)), SHA256: sha(fx.vocab),
		}},
	}
	t.Cleanup(UseCatalog(fx.cat))
	t.Setenv(EnvHome, fx.dir)
	t.Setenv(EnvEndpoint, fx.srv.URL)
	t.Setenv(EnvToken, "")
	t.Setenv(EnvOffline, "")
	old := retryDelay
	retryDelay = time.Millisecond
	t.Cleanup(func() { retryDelay = old })
	return fx
}

// pull runs Pull with a progress buffer.
func (fx *fixture) pull(ref string, opts Options) (string, string, error) {
	var buf bytes.Buffer
	opts.Progress = &buf
	path, err := Pull(context.Background(), ref, opts)
	return path, buf.String(), err
}

func (fx *fixture) assertFile(name string, want []byte) {
	fx.t.Helper()
	got, err := os.ReadFile(filepath.Join(fx.dir, name))
	if err != nil {
		fx.t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		fx.t.Fatalf("%s: %d bytes, sha %s; want %d bytes, sha %s", name, len(got), sha(got)[:12], len(want), sha(want)[:12])
	}
}

func (fx *fixture) assertAbsent(names ...string) {
	fx.t.Helper()
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(fx.dir, n)); !errors.Is(err, os.ErrNotExist) {
			fx.t.Errorf("%s: exists (err %v), want absent", n, err)
		}
	}
}

func wantErr(t *testing.T, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", subs)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q spans several lines", err)
	}
}

func TestPullFresh(t *testing.T) {
	fx := newFixture(t)
	path, out, err := fx.pull("tiny", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(fx.dir, "tiny-model.pth"); path != want {
		t.Errorf("path %s, want %s", path, want)
	}
	fx.assertFile("tiny-model.pth", fx.model)
	fx.assertFile("test_vocab.txt", fx.vocab) // the tokenizer comes along
	fx.assertAbsent("tiny-model.pth.partial", "test_vocab.txt.partial")
	reqs := fx.requests()
	wantPaths := []string{"/Test/rwkv-tiny/resolve/main/tiny-model.pth", "/cdn/tiny-model.pth", "/raw/test_vocab.txt"}
	if len(reqs) != len(wantPaths) {
		t.Fatalf("requests %+v, want paths %v", reqs, wantPaths)
	}
	for i, r := range reqs {
		if r.path != wantPaths[i] || r.rng != "" {
			t.Errorf("request %d: %+v, want path %s without Range", i, r, wantPaths[i])
		}
	}
	for _, s := range []string{"Downloading tiny-model.pth (300.0 kB)", "tiny-model.pth: SHA-256 verified", "test_vocab.txt: SHA-256 verified"} {
		if !strings.Contains(out, s) {
			t.Errorf("progress output lacks %q:\n%s", s, out)
		}
	}

	// Pulling again touches nothing.
	_, out, err = fx.pull("tiny", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(fx.requests()); n != 3 {
		t.Errorf("second pull made %d new requests", n-3)
	}
	if !strings.Contains(out, "tiny-model.pth is already in the cache") {
		t.Errorf("second pull said:\n%s", out)
	}

	// Resolve, TokenizerPath and Cached see the files.
	if p, err := Resolve("tiny"); err != nil || p != path {
		t.Errorf("Resolve = %q, %v", p, err)
	}
	if p, err := Resolve(""); err != nil || p != path {
		t.Errorf("Resolve(default) = %q, %v", p, err)
	}
	if p, err := TokenizerPath("tiny"); err != nil || p != filepath.Join(fx.dir, "test_vocab.txt") {
		t.Errorf("TokenizerPath = %q, %v", p, err)
	}
	files, err := Cached()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Name != "test_vocab.txt" || files[1].Name != "tiny-model.pth" ||
		files[1].Size != int64(len(fx.model)) || files[1].Entry == nil || files[1].Entry.Name != "tiny" ||
		files[0].Entry == nil || files[0].Entry.Name != "world" {
		t.Errorf("Cached = %+v", files)
	}
}

func TestPullDefaultModel(t *testing.T) {
	fx := newFixture(t)
	if d := DefaultModel(); d.Name != "tiny" {
		t.Fatalf("DefaultModel = %+v", d)
	}
	if _, _, err := fx.pull("", Options{}); err != nil {
		t.Fatal(err)
	}
	fx.assertFile("tiny-model.pth", fx.model)
}

func TestPullHubRefUsesLinkedHeaders(t *testing.T) {
	fx := newFixture(t)
	other := bytes.Repeat([]byte("rwkv"), 10_000)
	fx.add("Someone/other", "other.safetensors", other)
	for i, ref := range []string{
		"hf.co/Someone/other/other.safetensors",
		"huggingface.co/Someone/other/resolve/main/other.safetensors",
		fx.srv.URL + "/Someone/other/blob/main/other.safetensors",
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			os.RemoveAll(fx.dir)
			fx.linkedEtag = `W/"` + sha(other) + `"`
			path, out, err := fx.pull(ref, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if path != filepath.Join(fx.dir, "other.safetensors") {
				t.Errorf("path %s", path)
			}
			fx.assertFile("other.safetensors", other)
			fx.assertAbsent("test_vocab.txt") // no tokenizer for files outside the catalogue
			if !strings.Contains(out, "SHA-256 verified") {
				t.Errorf("progress:\n%s", out)
			}
			last := fx.requests()[len(fx.requests())-2]
			if last.path != "/Someone/other/resolve/main/other.safetensors" {
				t.Errorf("request %+v", last)
			}
		})
	}
}

func TestPullHubRefMatchingCatalogue(t *testing.T) {
	fx := newFixture(t)
	if _, _, err := fx.pull("hf.co/Test/rwkv-tiny/tiny-model.pth", Options{}); err != nil {
		t.Fatal(err)
	}
	fx.assertFile("test_vocab.txt", fx.vocab) // recognised as the catalogue model
}

func TestPullPlainURL(t *testing.T) {
	fx := newFixture(t)
	fx.add("", "plain.bin", []byte("plain bytes, no published hash"))
	path, out, err := fx.pull(fx.srv.URL+"/raw/plain.bin", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "plain.bin" {
		t.Errorf("path %s", path)
	}
	if !strings.Contains(out, "no SHA-256 published") {
		t.Errorf("progress:\n%s", out)
	}
}

func TestPullResumeAfterCut(t *testing.T) {
	fx := newFixture(t)
	const cut = 100_000
	fx.cutAfter = cut
	_, _, err := fx.pull("tiny", Options{MaxAttempts: 1})
	wantErr(t, err, "tiny-model.pth", "connection", "pull again to resume")
	fi, err2 := os.Stat(filepath.Join(fx.dir, "tiny-model.pth.partial"))
	if err2 != nil || fi.Size() != cut {
		t.Fatalf("partial: %v, %v; want %d bytes", fi, err2, cut)
	}
	fx.assertAbsent("tiny-model.pth")

	_, out, err := fx.pull("tiny", Options{MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	fx.assertFile("tiny-model.pth", fx.model)
	fx.assertAbsent("tiny-model.pth.partial")
	var ranges []string
	for _, r := range fx.requests() {
		if r.path == "/cdn/tiny-model.pth" {
			ranges = append(ranges, r.rng)
		}
	}
	if len(ranges) != 2 || ranges[0] != "" || ranges[1] != fmt.Sprintf("bytes=%d-", cut) {
		t.Errorf("Range headers of the downloads: %q", ranges)
	}
	if !strings.Contains(out, "Resuming tiny-model.pth (300.0 kB) at 100.0 kB") {
		t.Errorf("progress:\n%s", out)
	}
}

func TestPullRetriesAndResumesInOneCall(t *testing.T) {
	fx := newFixture(t)
	fx.cutAfter = 123_457
	fx.failFirst = 1 // and a 503 first
	_, out, err := fx.pull("tiny", Options{})
	if err != nil {
		t.Fatal(err)
	}
	fx.assertFile("tiny-model.pth", fx.model)
	var ranges []string
	for _, r := range fx.requests() {
		if r.path == "/cdn/tiny-model.pth" {
			ranges = append(ranges, r.rng)
		}
	}
	if len(ranges) != 2 || ranges[1] != "bytes=123457-" {
		t.Errorf("Range headers: %q", ranges)
	}
	if strings.Count(out, "retrying") != 2 {
		t.Errorf("progress:\n%s", out)
	}
}

func TestPullServerIgnoresRange(t *testing.T) {
	fx := newFixture(t)
	fx.ignoreRange = true
	if err := os.MkdirAll(fx.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A partial file whose bytes are wrong: appending to it would fail the
	// hash, so passing shows the download started over.
	if err := os.WriteFile(filepath.Join(fx.dir, "tiny-model.pth.partial"), bytes.Repeat([]byte{0xAA}, 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	_, out, err := fx.pull("tiny", Options{MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	fx.assertFile("tiny-model.pth", fx.model)
	if !strings.Contains(out, "does not resume downloads; starting over") {
		t.Errorf("progress:\n%s", out)
	}
	found := false
	for _, r := range fx.requests() {
		found = found || r.rng == "bytes=5000-"
	}
	if !found {
		t.Errorf("no Range request: %+v", fx.requests())
	}
}

func TestPullCompletePartialNeedsNoNetwork(t *testing.T) {
	fx := newFixture(t)
	os.MkdirAll(fx.dir, 0o755)
	os.WriteFile(filepath.Join(fx.dir, "tiny-model.pth.partial"), fx.model, 0o644)
	os.WriteFile(filepath.Join(fx.dir, "test_vocab.txt"), fx.vocab, 0o644)
	if _, _, err := fx.pull("tiny", Options{}); err != nil {
		t.Fatal(err)
	}
	fx.assertFile("tiny-model.pth", fx.model)
	if n := len(fx.requests()); n != 0 {
		t.Errorf("%d requests", n)
	}
}

func TestPullCompletePartialWithWrongBytes(t *testing.T) {
	fx := newFixture(t)
	os.MkdirAll(fx.dir, 0o755)
	bad := append([]byte(nil), fx.model...)
	bad[7] ^= 1
	os.WriteFile(filepath.Join(fx.dir, "tiny-model.pth.partial"), bad, 0o644)
	_, out, err := fx.pull("tiny", Options{})
	if err != nil {
		t.Fatal(err)
	}
	fx.assertFile("tiny-model.pth", fx.model)
	if !strings.Contains(out, "SHA-256 mismatch") || !strings.Contains(out, "retrying") {
		t.Errorf("progress:\n%s", out)
	}
}

func TestPullRangeNotSatisfiable(t *testing.T) {
	// A complete partial of a file outside the catalogue: the server
	// answers 416 and the partial is verified and installed.
	fx := newFixture(t)
	other := []byte("complete already")
	fx.add("Someone/other", "done.bin", other)
	os.MkdirAll(fx.dir, 0o755)
	os.WriteFile(filepath.Join(fx.dir, "done.bin.partial"), other, 0o644)
	if _, _, err := fx.pull("hf.co/Someone/other/done.bin", Options{}); err != nil {
		t.Fatal(err)
	}
	fx.assertFile("done.bin", other)
}

func TestPullWrongHash(t *testing.T) {
	t.Run("catalogue", func(t *testing.T) {
		fx := newFixture(t)
		bad := append([]byte(nil), fx.model...)
		bad[1000] ^= 1
		fx.override["tiny-model.pth"] = bad
		_, _, err := fx.pull("tiny", Options{})
		wantErr(t, err, "tiny-model.pth", "SHA-256 mismatch", sha(bad), fx.cat.Models[0].SHA256, "discarded")
		fx.assertAbsent("tiny-model.pth", "tiny-model.pth.partial")
	})
	t.Run("catalogue and X-Linked-Etag disagree", func(t *testing.T) {
		fx := newFixture(t)
		fx.linkedEtag = strings.Repeat("cd", 32)
		_, _, err := fx.pull("tiny", Options{})
		wantErr(t, err, "tiny-model.pth", "changed upstream", strings.Repeat("cd", 32))
		fx.assertAbsent("tiny-model.pth", "tiny-model.pth.partial")
		for _, r := range fx.requests() {
			if r.path == "/cdn/tiny-model.pth" {
				t.Errorf("the file was downloaded")
			}
		}
	})
	t.Run("linked etag", func(t *testing.T) {
		fx := newFixture(t)
		fx.add("Someone/other", "x.pth", []byte("some model bytes"))
		fx.linkedEtag = `"` + strings.Repeat("ab", 32) + `"`
		_, _, err := fx.pull("hf.co/Someone/other/x.pth", Options{})
		wantErr(t, err, "SHA-256 mismatch", strings.Repeat("ab", 32))
		fx.assertAbsent("x.pth", "x.pth.partial")
	})
}

func TestPullWrongSize(t *testing.T) {
	t.Run("catalogue", func(t *testing.T) {
		fx := newFixture(t)
		fx.override["tiny-model.pth"] = fx.model[:len(fx.model)-10]
		_, _, err := fx.pull("tiny", Options{})
		wantErr(t, err, "tiny-model.pth", "wrong size", "299990", "300000")
		fx.assertAbsent("tiny-model.pth", "tiny-model.pth.partial")
	})
	t.Run("catalogue, no Content-Length, body too long", func(t *testing.T) {
		fx := newFixture(t)
		fx.chunked = true
		fx.override["tiny-model.pth"] = append(append([]byte(nil), fx.model...), "extra"...)
		_, _, err := fx.pull("tiny", Options{})
		wantErr(t, err, "wrong size", "300001", "300000")
		fx.assertAbsent("tiny-model.pth", "tiny-model.pth.partial")
	})
	t.Run("catalogue and X-Linked-Size disagree", func(t *testing.T) {
		fx := newFixture(t)
		fx.linkedSize = "123"
		_, _, err := fx.pull("tiny", Options{})
		wantErr(t, err, "wrong size", "123", "300000")
		for _, r := range fx.requests() {
			if r.path == "/cdn/tiny-model.pth" {
				t.Errorf("the file was downloaded")
			}
		}
	})
	t.Run("linked size", func(t *testing.T) {
		fx := newFixture(t)
		fx.add("Someone/other", "x.pth", []byte("some model bytes"))
		fx.linkedSize = "17"
		_, _, err := fx.pull("hf.co/Someone/other/x.pth", Options{})
		wantErr(t, err, "x.pth", "wrong size", "16", "17")
		fx.assertAbsent("x.pth", "x.pth.partial")
	})
}

func TestPullHTML(t *testing.T) {
	t.Run("content type", func(t *testing.T) {
		fx := newFixture(t)
		fx.contentType = "text/html; charset=utf-8"
		_, _, err := fx.pull("tiny", Options{})
		wantErr(t, err, "tiny-model.pth", "HTML page")
		fx.assertAbsent("tiny-model.pth", "tiny-model.pth.partial")
	})
	t.Run("body", func(t *testing.T) {
		fx := newFixture(t)
		page := []byte("\n<!DOCTYPE html><html><body>Please log in</body></html>")
		fx.add("Someone/other", "page.pth", page)
		_, _, err := fx.pull("hf.co/Someone/other/page.pth", Options{})
		wantErr(t, err, "page.pth", "HTML page")
		fx.assertAbsent("page.pth", "page.pth.partial")
	})
}

func TestPull404(t *testing.T) {
	fx := newFixture(t)
	_, _, err := fx.pull("hf.co/Someone/other/missing.pth", Options{})
	wantErr(t, err, "missing.pth", "404", "Someone/other")
	fx.assertAbsent("missing.pth", "missing.pth.partial")
	if n := len(fx.requests()); n != 1 {
		t.Errorf("%d requests for a 404; it must not be retried", n)
	}
}

func TestPullServerErrorGivesUp(t *testing.T) {
	fx := newFixture(t)
	fx.status = http.StatusBadGateway
	_, out, err := fx.pull("tiny", Options{MaxAttempts: 3})
	wantErr(t, err, "502")
	if n := len(fx.requests()); n != 3 {
		t.Errorf("%d requests, want 3 attempts", n)
	}
	if strings.Contains(err.Error(), "partial download is kept") {
		t.Errorf("error mentions a partial file that does not exist: %v", err)
	}
	if strings.Count(out, "retrying") != 2 {
		t.Errorf("progress:\n%s", out)
	}
}

func TestPullToken(t *testing.T) {
	t.Run("401 without HF_TOKEN", func(t *testing.T) {
		fx := newFixture(t)
		fx.needToken = "good"
		_, _, err := fx.pull("tiny", Options{})
		wantErr(t, err, "401", "set HF_TOKEN", "Test/rwkv-tiny")
		fx.assertAbsent("tiny-model.pth", "tiny-model.pth.partial")
	})
	t.Run("403 with a wrong HF_TOKEN", func(t *testing.T) {
		fx := newFixture(t)
		fx.needToken = "good"
		t.Setenv(EnvToken, "bad")
		_, _, err := fx.pull("tiny", Options{})
		wantErr(t, err, "403", "HF_TOKEN has no access to Test/rwkv-tiny")
	})
	t.Run("401 with HF_TOKEN", func(t *testing.T) {
		fx := newFixture(t)
		fx.status = http.StatusUnauthorized
		t.Setenv(EnvToken, "bad")
		_, _, err := fx.pull("tiny", Options{})
		wantErr(t, err, "401", "rejected HF_TOKEN")
	})
	t.Run("good HF_TOKEN, same-host redirect", func(t *testing.T) {
		fx := newFixture(t)
		fx.needToken = "good"
		t.Setenv(EnvToken, "good")
		if _, _, err := fx.pull("tiny", Options{}); err != nil {
			t.Fatal(err)
		}
		fx.assertFile("tiny-model.pth", fx.model)
		for _, r := range fx.requests() {
			want := "Bearer good"
			if strings.HasPrefix(r.path, "/raw/") {
				want = "" // not a Hub file: no token
			}
			if r.auth != want {
				t.Errorf("%s got Authorization %q, want %q", r.path, r.auth, want)
			}
		}
	})
	t.Run("good HF_TOKEN, cross-host redirect", func(t *testing.T) {
		fx := newFixture(t)
		fx.needToken = "good"
		fx.crossHost = true
		t.Setenv(EnvToken, "good")
		if _, _, err := fx.pull("tiny", Options{}); err != nil {
			t.Fatal(err)
		}
		fx.assertFile("tiny-model.pth", fx.model)
		var cdn []request
		for _, r := range fx.requests() {
			if strings.HasPrefix(r.host, "localhost:") {
				cdn = append(cdn, r)
			}
		}
		if len(cdn) != 1 || cdn[0].auth != "" {
			t.Errorf("CDN requests %+v: want one, without Authorization", cdn)
		}
	})
}

func TestPullHFEndpoint(t *testing.T) {
	fx := newFixture(t)
	// A second server as the endpoint: the pull must go there, not to the
	// one in HF_ENDPOINT of the fixture.
	mirror := newFakeHub(t)
	mirror.add("Test/rwkv-tiny", "tiny-model.pth", fx.model)
	t.Setenv(EnvEndpoint, mirror.srv.URL+"/")
	if _, _, err := fx.pull("hf.co/Test/rwkv-tiny/tiny-model.pth", Options{}); err != nil {
		t.Fatal(err)
	}
	if len(mirror.requests()) != 2 {
		t.Errorf("mirror requests %+v", mirror.requests())
	}
	for _, r := range fx.requests() {
		if r.path != "/raw/test_vocab.txt" {
			t.Errorf("request to the other server: %+v", r)
		}
	}
	// Options.Endpoint wins over the environment.
	os.RemoveAll(fx.dir)
	if _, _, err := fx.pull("tiny", Options{Endpoint: fx.srv.URL}); err != nil {
		t.Fatal(err)
	}
	if len(mirror.requests()) != 2 {
		t.Errorf("mirror used despite Options.Endpoint")
	}
}

func TestPullOffline(t *testing.T) {
	for _, viaEnv := range []bool{false, true} {
		t.Run(fmt.Sprintf("env=%v", viaEnv), func(t *testing.T) {
			fx := newFixture(t)
			opts := Options{Offline: true}
			if viaEnv {
				opts = Options{}
				t.Setenv(EnvOffline, "1")
			}
			_, _, err := fx.pull("tiny", opts)
			wantErr(t, err, "offline", "fetch it with: rwkv-chat pull tiny")
			if !errors.Is(err, ErrNotCached) {
				t.Errorf("error %v is not ErrNotCached", err)
			}
			var nc *NotCachedError
			if !errors.As(err, &nc) || nc.Command() != "rwkv-chat pull tiny" {
				t.Errorf("error %#v", err)
			}
			// The model alone is not enough: the tokenizer is missing.
			os.MkdirAll(fx.dir, 0o755)
			os.WriteFile(filepath.Join(fx.dir, "tiny-model.pth"), fx.model, 0o644)
			_, _, err = fx.pull("tiny", opts)
			wantErr(t, err, "test_vocab.txt", "rwkv-chat pull tiny")
			os.WriteFile(filepath.Join(fx.dir, "test_vocab.txt"), fx.vocab, 0o644)
			path, _, err := fx.pull("tiny", opts)
			if err != nil || path != filepath.Join(fx.dir, "tiny-model.pth") {
				t.Errorf("offline pull of a cached model: %q, %v", path, err)
			}
			// Files outside the catalogue, by reference or by file name.
			_, _, err = fx.pull("hf.co/A/b/c.gguf", opts)
			wantErr(t, err, "c.gguf", "rwkv-chat pull hf.co/A/b/c.gguf")
			os.WriteFile(filepath.Join(fx.dir, "c.gguf"), []byte("x"), 0o644)
			for _, ref := range []string{"hf.co/A/b/c.gguf", "c.gguf"} {
				if p, _, err := fx.pull(ref, opts); err != nil || p != filepath.Join(fx.dir, "c.gguf") {
					t.Errorf("offline %s: %q, %v", ref, p, err)
				}
			}
			if n := len(fx.requests()); n != 0 {
				t.Errorf("offline mode made %d requests", n)
			}
		})
	}
}

func TestResolveNotCached(t *testing.T) {
	newFixture(t)
	_, err := Resolve("")
	wantErr(t, err, "tiny", "rwkv-chat pull tiny")
	if !errors.Is(err, ErrNotCached) {
		t.Errorf("not ErrNotCached: %v", err)
	}
	_, err = Resolve("https://example.com/a b/model&x.pth")
	wantErr(t, err, "rwkv-chat pull 'https://example.com/a b/model&x.pth'")
	_, err = Resolve("no such thing/")
	wantErr(t, err, "unknown model")
}

func TestResolveWrongSize(t *testing.T) {
	fx := newFixture(t)
	os.MkdirAll(fx.dir, 0o755)
	os.WriteFile(filepath.Join(fx.dir, "tiny-model.pth"), []byte("short"), 0o644)
	_, err := Resolve("tiny")
	wantErr(t, err, "5 bytes", "rwkv-chat pull tiny")
	// Pull replaces it.
	if _, _, err := fx.pull("tiny", Options{}); err != nil {
		t.Fatal(err)
	}
	fx.assertFile("tiny-model.pth", fx.model)
}

func TestPullKeepsGoodFileOnFailure(t *testing.T) {
	fx := newFixture(t)
	if _, _, err := fx.pull("tiny", Options{}); err != nil {
		t.Fatal(err)
	}
	final := filepath.Join(fx.dir, "tiny-model.pth")
	before, _ := os.Stat(final)
	bad := append([]byte(nil), fx.model...)
	bad[len(bad)-1] ^= 0xff
	for name, setup := range map[string]func(){
		"wrong hash": func() { fx.override["tiny-model.pth"] = bad },
		"wrong size": func() { fx.override["tiny-model.pth"] = fx.model[:100] },
		"html":       func() { fx.contentType = "text/html" },
		"404":        func() { fx.status = http.StatusNotFound },
		"cut":        func() { fx.cutAfter, fx.cutDone = 1000, false },
	} {
		fx.override = map[string][]byte{}
		fx.contentType, fx.status = "", 0
		setup()
		_, _, err := fx.pull("tiny", Options{Force: true, MaxAttempts: 1})
		if err == nil {
			t.Fatalf("%s: forced pull succeeded", name)
		}
		fx.assertFile("tiny-model.pth", fx.model)
		after, _ := os.Stat(final)
		if !after.ModTime().Equal(before.ModTime()) || !os.SameFile(before, after) {
			t.Errorf("%s: the cached file was replaced", name)
		}
	}
	// A forced pull that succeeds replaces it.
	fx.override, fx.contentType, fx.status = map[string][]byte{}, "", 0
	os.Remove(final + partialSuffix)
	if _, _, err := fx.pull("tiny", Options{Force: true}); err != nil {
		t.Fatal(err)
	}
	fx.assertFile("tiny-model.pth", fx.model)
}

func TestPullReadOnlyCacheDir(t *testing.T) {
	fx := newFixture(t)
	if err := os.MkdirAll(fx.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(fx.dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(fx.dir, 0o755) })
	probe := filepath.Join(fx.dir, "probe")
	if err := os.WriteFile(probe, nil, 0o644); err == nil {
		os.Remove(probe)
		t.Skip("the cache directory stays writable (running as root)")
	}
	_, _, err := fx.pull("tiny", Options{})
	wantErr(t, err, "cannot write to the cache directory", fx.dir, "RWKV_CHAT_HOME")
	fx.assertAbsent("tiny-model.pth", "tiny-model.pth.partial")
}

func TestPullReadOnlyFileSystem(t *testing.T) {
	// What a read-only mount answers, simulated so that it runs as root too.
	fx := newFixture(t)
	old := openPartial
	openPartial = func(name string, flag int) (partialFile, error) {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EROFS}
	}
	t.Cleanup(func() { openPartial = old })
	_, _, err := fx.pull("tiny", Options{})
	wantErr(t, err, "cannot write to the cache directory", fx.dir, "read-only file system", "RWKV_CHAT_HOME")
	fx.assertAbsent("tiny-model.pth", "tiny-model.pth.partial")
}

func TestPullCacheDirUnderAFile(t *testing.T) {
	// Works as root too: the cache directory cannot be created.
	fx := newFixture(t)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	t.Setenv(EnvHome, filepath.Join(file, "cache"))
	_, _, err := fx.pull("tiny", Options{})
	wantErr(t, err, "tiny-model.pth", "not a directory")
}

// fullDisk fails writes with ENOSPC once limit bytes were written.
type fullDisk struct {
	*os.File
	limit int64
}

func (f *fullDisk) Write(b []byte) (int, error) {
	if f.limit < int64(len(b)) {
		n, _ := f.File.Write(b[:f.limit])
		f.limit = 0
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	f.limit -= int64(len(b))
	return f.File.Write(b)
}

func TestPullFullDisk(t *testing.T) {
	fx := newFixture(t)
	old := openPartial
	openPartial = func(name string, flag int) (partialFile, error) {
		f, err := os.OpenFile(name, flag, 0o644)
		if err != nil {
			return nil, err
		}
		return &fullDisk{File: f, limit: 50_000}, nil
	}
	t.Cleanup(func() { openPartial = old })
	_, _, err := fx.pull("tiny", Options{})
	wantErr(t, err, "tiny-model.pth", "no space left", fx.dir, "partial download was removed")
	fx.assertAbsent("tiny-model.pth", "tiny-model.pth.partial")
	if n := len(fx.requests()); n != 2 {
		t.Errorf("%d requests: a full disk must not be retried", n)
	}
}

func TestPullCancelKeepsPartial(t *testing.T) {
	fx := newFixture(t)
	fx.stall = make(chan struct{})
	fx.stallStarted = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-fx.stallStarted
		// Cancel once the first bytes reached the partial file.
		for i := 0; i < 500; i++ {
			if fi, err := os.Stat(filepath.Join(fx.dir, "tiny-model.pth.partial")); err == nil && fi.Size() > 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	defer close(fx.stall)
	_, err := Pull(ctx, "tiny", Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	wantErr(t, err, "pull again to resume")
	fx.assertAbsent("tiny-model.pth")
	if _, err := os.Stat(filepath.Join(fx.dir, "tiny-model.pth.partial")); err != nil {
		t.Errorf("partial file: %v", err)
	}
}

func TestRequestError(t *testing.T) {
	tg := target{file: "m.pth", url: "https://huggingface.co/a/b/resolve/main/m.pth"}
	dns := &url.Error{Op: "Get", URL: tg.url, Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "huggingface.co", IsNotFound: true}}}
	err := requestError(tg, dns)
	var re retryable
	if errors.As(err, &re) {
		t.Errorf("an unknown host is retried: %v", err)
	}
	wantErr(t, err, "m.pth: cannot reach huggingface.co", "no such host", "no network?")
	refused := &url.Error{Op: "Get", URL: tg.url, Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	if err := requestError(tg, refused); !errors.As(err, &re) {
		t.Errorf("a refused connection is not retried: %v", err)
	}
}

func TestPullUnknownName(t *testing.T) {
	newFixture(t)
	_, err := Pull(context.Background(), "nope", Options{})
	wantErr(t, err, `unknown model "nope"`, "tiny")
}

func TestMain(m *testing.M) {
	// Nothing here may reach the internet: make any such attempt fail
	// fast instead of hanging.
	os.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	os.Setenv("NO_PROXY", "127.0.0.1,localhost")
	os.Exit(m.Run())
}

var _ io.Writer = (*progress)(nil)
