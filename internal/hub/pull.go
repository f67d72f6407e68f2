package hub

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options tune Pull. The zero value downloads into Dir() silently.
type Options struct {
	// Dir is the cache directory; "" means Dir().
	Dir string
	// Offline forbids any network access: Pull returns the cached file or
	// an error naming the command that fetches it. RWKV_CHAT_OFFLINE=1
	// sets it too.
	Offline bool
	// Force downloads again a file that is already cached. The cached file
	// is replaced only by a download that passed verification.
	Force bool
	// Endpoint overrides $HF_ENDPOINT; Token overrides $HF_TOKEN.
	Endpoint, Token string
	// Progress receives the progress display (nil: none). IsTTY says it is
	// a terminal, where a bar is redrawn in place; otherwise plain lines
	// are printed every few seconds. Width is the terminal's width (0: 80).
	Progress io.Writer
	IsTTY    bool
	Width    int
	// Client does the requests (nil: a client like http.DefaultClient).
	// Its redirect policy is kept; Go's rule of dropping Authorization on a
	// redirect to another host applies.
	Client *http.Client
	// MaxAttempts bounds the tries per file when the connection fails;
	// each try resumes where the last stopped. 0 means 5.
	MaxAttempts int
}

// retryDelay is the pause before the second try; it doubles after.
var retryDelay = time.Second

// Pull makes ref available in the cache and returns its path. ref is a
// catalogue name ("" for the default model), hf.co/OWNER/REPO/FILE (or
// huggingface.co/…), or an http(s) URL. A catalogue model brings the
// tokenizer it needs (see TokenizerPath).
//
// A cached file is returned as it is (a catalogue file only if its size is
// right) unless opts.Force is set. Downloads go to FILE.partial and resume
// from there with a Range request; the size and SHA-256 (from the catalogue,
// or from the Hub's X-Linked-Size and X-Linked-Etag headers) are checked
// before the file is renamed to its final name, so a file under its final
// name is always complete, and a failed download never touches it.
func Pull(ctx context.Context, ref string, opts Options) (string, error) {
	c := Current()
	dir := opts.Dir
	if dir == "" {
		d, err := Dir()
		if err != nil {
			return "", err
		}
		dir = d
	}
	ep := endpoint(opts.Endpoint)
	t, err := parseRef(ref, c, ep, opts.Offline || OfflineFromEnv())
	if err != nil {
		return "", err
	}
	targets := []target{t}
	if t.entry != nil {
		if tok, ok := c.tokenizer(*t.entry); ok {
			tt := entryTarget(tok, ep)
			tt.ref = t.ref
			targets = append(targets, tt)
		}
	}
	if opts.Offline || OfflineFromEnv() {
		for _, t := range targets {
			if _, err := lookupCached(dir, t, true); err != nil {
				return "", err
			}
		}
		return filepath.Join(dir, t.file), nil
	}
	p := &puller{opts: opts, dir: dir, ep: ep,
		prog: newProgress(opts.Progress, opts.IsTTY, opts.Width, nil)}
	p.token = opts.Token
	if p.token == "" {
		p.token = os.Getenv(EnvToken)
	}
	for _, t := range targets {
		if _, err := p.fetch(ctx, t); err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, t.file), nil
}

type puller struct {
	opts  Options
	dir   string
	ep    string
	token string
	prog  *progress
}

// fetch brings one file into the cache, retrying failed connections.
func (p *puller) fetch(ctx context.Context, t target) (string, error) {
	final := filepath.Join(p.dir, t.file)
	if fi, err := os.Stat(final); err == nil && fi.Mode().IsRegular() && !p.opts.Force {
		if t.size == 0 || fi.Size() == t.size {
			p.prog.note("%s is already in the cache", t.file)
			return final, nil
		}
		p.prog.note("%s in the cache has %d bytes, not %d: downloading it again", t.file, fi.Size(), t.size)
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return "", diskError(p.dir, t, err)
	}
	attempts := p.opts.MaxAttempts
	if attempts <= 0 {
		attempts = 5
	}
	delay := retryDelay
	var err error
	for i := 1; ; i++ {
		err = p.attempt(ctx, t, final)
		if err == nil {
			return final, nil
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("%s: %w (the partial download is kept; pull again to resume)", t.file, ctx.Err())
		}
		var re retryable
		if !errors.As(err, &re) {
			return "", err
		}
		if i >= attempts {
			break
		}
		p.prog.note("%v; retrying (%d/%d)", err, i+1, attempts)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return "", fmt.Errorf("%s: %w (the partial download is kept; pull again to resume)", t.file, ctx.Err())
		}
		delay *= 2
	}
	if fi, e := os.Stat(final + partialSuffix); e == nil && fi.Size() > 0 {
		return "", fmt.Errorf("%w; the partial download is kept: pull again to resume", err)
	}
	return "", err
}

// retryable marks failures that another try may cure: a cut connection, a
// server error.
type retryable struct{ err error }

func (e retryable) Error() string { return e.err.Error() }
func (e retryable) Unwrap() error { return e.err }

// linked holds the X-Linked-* headers the Hub puts on /resolve/ responses
// of large files: the size and SHA-256 of the file behind the redirect.
type linked struct {
	size   int64
	sha256 string
}

func (l *linked) read(h http.Header) {
	if n, err := strconv.ParseInt(h.Get("X-Linked-Size"), 10, 64); err == nil && n > 0 && l.size == 0 {
		l.size = n
	}
	if e := strings.ToLower(strings.Trim(strings.TrimPrefix(h.Get("X-Linked-Etag"), "W/"), `"`)); hexSHA256.MatchString(e) && l.sha256 == "" {
		l.sha256 = e
	}
}

// conflicts reports whether the Hub describes another file than the
// catalogue entry of t (the file changed upstream).
func (l *linked) conflicts(t target) bool {
	return (t.sha256 != "" && l.sha256 != "" && l.sha256 != t.sha256) ||
		(t.size > 0 && l.size > 0 && l.size != t.size)
}

// attempt makes one request and appends what it gets to the partial file;
// a complete, verified file is renamed to final.
func (p *puller) attempt(ctx context.Context, t target, final string) error {
	partial := final + partialSuffix
	have := int64(0)
	if fi, err := os.Stat(partial); err == nil && fi.Mode().IsRegular() {
		have = fi.Size()
	}
	if t.size > 0 && have > t.size {
		have = 0 // not a prefix of this file
	}
	if t.size > 0 && have == t.size {
		// Complete but not renamed (stopped before the rename).
		return p.complete(t, partial, final, have, t.size, t.sha256)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", t.file, err)
	}
	req.Header.Set("User-Agent", "rwkv-chat")
	// No transparent gzip: offsets and sizes must be those of the file.
	req.Header.Set("Accept-Encoding", "identity")
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	if t.hub && p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	var lk linked
	client := http.Client{}
	if p.opts.Client != nil {
		client = *p.opts.Client
	}
	check := client.CheckRedirect
	client.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if r.Response != nil {
			lk.read(r.Response.Header)
		}
		if lk.conflicts(t) {
			return http.ErrUseLastResponse // reported below, before any byte is fetched
		}
		if check != nil {
			return check(r, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return requestError(t, err)
	}
	defer resp.Body.Close()
	lk.read(resp.Header)

	if lk.conflicts(t) && lk.sha256 != t.sha256 {
		_ = os.Remove(partial)
		return fmt.Errorf("%s: the server's file has SHA-256 %s, the catalogue expects %s (the file changed upstream); nothing was downloaded", t.file, lk.sha256, t.sha256)
	}
	if lk.conflicts(t) {
		_ = os.Remove(partial)
		return sizeError(t, lk.size, t.size)
	}
	wantSize, wantSHA := t.size, t.sha256
	if wantSize == 0 {
		wantSize = lk.size
	}
	if wantSHA == "" {
		wantSHA = lk.sha256
	}

	start := int64(0)
	switch resp.StatusCode {
	case http.StatusOK:
		// A full body: the server ignored the Range, or there was none.
	case http.StatusPartialContent:
		first, total, ok := contentRange(resp.Header.Get("Content-Range"))
		if !ok || first != have {
			_ = os.Remove(partial)
			return retryable{fmt.Errorf("%s: the server resumed at a different offset (%q); starting over", t.file, resp.Header.Get("Content-Range"))}
		}
		start = first
		if wantSize == 0 {
			wantSize = total
		}
		if wantSize > 0 && total > 0 && total != wantSize {
			_ = os.Remove(partial)
			return sizeError(t, total, wantSize)
		}
	case http.StatusRequestedRangeNotSatisfiable:
		_, total, _ := contentRange(resp.Header.Get("Content-Range"))
		if wantSize == 0 {
			wantSize = total
		}
		if wantSize > 0 && have == wantSize {
			return p.complete(t, partial, final, have, wantSize, wantSHA)
		}
		_ = os.Remove(partial)
		return retryable{fmt.Errorf("%s: the server refused to resume at byte %d; starting over", t.file, have)}
	default:
		return p.statusError(t, resp)
	}
	if isHTML(resp.Header.Get("Content-Type")) {
		return htmlError(t)
	}
	if resp.StatusCode == http.StatusOK {
		if have > 0 {
			p.prog.note("%s: the server does not resume downloads; starting over", t.file)
		}
		if resp.ContentLength >= 0 {
			if wantSize > 0 && resp.ContentLength != wantSize {
				_ = os.Remove(partial)
				return sizeError(t, resp.ContentLength, wantSize)
			}
			if wantSize == 0 {
				wantSize = resp.ContentLength
			}
		}
	}
	body := bufio.NewReaderSize(resp.Body, 64<<10)
	if start == 0 {
		head, _ := body.Peek(512)
		if looksHTML(head) {
			return htmlError(t)
		}
	}

	flag := os.O_RDWR | os.O_CREATE
	if start == 0 {
		flag |= os.O_TRUNC
	}
	f, err := openPartial(partial, flag)
	if err != nil {
		return diskError(p.dir, t, err)
	}
	closed := false
	defer func() {
		if !closed {
			f.Close()
		}
	}()
	h := sha256.New()
	if start > 0 {
		if start > 1<<30 {
			p.prog.note("Checking the %s already downloaded of %s", formatBytes(start), t.file)
		}
		n, err := io.CopyN(h, f, start)
		if err != nil || n != start {
			f.Close()
			closed = true
			_ = os.Remove(partial)
			return retryable{fmt.Errorf("%s: reading the partial download: %v; starting over", t.file, err)}
		}
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return diskError(p.dir, t, err)
	}

	p.prog.begin(t.file, hostOf(t.url), start, wantSize)
	dst := &errWriter{w: f}
	var src io.Reader = body
	if wantSize > 0 {
		src = io.LimitReader(body, wantSize-start+1) // one byte more shows a body too long
	}
	n, err := io.Copy(io.MultiWriter(dst, h, p.prog), src)
	got := start + n
	if dst.err != nil {
		p.prog.abort()
		f.Close()
		closed = true
		return p.writeFailed(t, partial, dst.err)
	}
	if err != nil {
		p.prog.abort()
		if ctx.Err() != nil {
			_ = f.Sync()
			return ctx.Err()
		}
		_ = f.Sync()
		return retryable{fmt.Errorf("%s: connection lost after %s: %v", t.file, formatBytes(got), err)}
	}
	if wantSize > 0 && got > wantSize {
		p.prog.abort()
		f.Close()
		closed = true
		_ = os.Remove(partial)
		return sizeError(t, got, wantSize)
	}
	if wantSize > 0 && got < wantSize {
		p.prog.abort()
		_ = f.Sync()
		return retryable{fmt.Errorf("%s: connection closed after %s of %s", t.file, formatBytes(got), formatBytes(wantSize))}
	}
	p.prog.end()
	closed = true
	return p.finish(t, f, h, partial, final, got, wantSHA)
}

// hashError is a file whose SHA-256 is wrong; it was removed.
type hashError struct{ err error }

func (e hashError) Error() string { return e.err.Error() }
func (e hashError) Unwrap() error { return e.err }

// complete verifies and installs a partial file that already has all its
// bytes. When the bytes are wrong the partial file is removed and the
// download starts over (retryable).
func (p *puller) complete(t target, partial, final string, have, wantSize int64, wantSHA string) error {
	err := p.completeOnce(t, partial, final, have, wantSize, wantSHA)
	var he hashError
	if errors.As(err, &he) {
		return retryable{err}
	}
	return err
}

func (p *puller) completeOnce(t target, partial, final string, have, wantSize int64, wantSHA string) error {
	f, err := openPartial(partial, os.O_RDWR)
	if err != nil {
		return diskError(p.dir, t, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		f.Close()
		return fmt.Errorf("%s: reading the partial download: %w", t.file, err)
	}
	return p.finish(t, f, h, partial, final, have, wantSHA)
}

// finish checks the hash, then syncs, closes and renames the partial file
// to its final name and syncs the directory. It always closes f.
func (p *puller) finish(t target, f partialFile, h hash.Hash, partial, final string, size int64, wantSHA string) error {
	sum := hex.EncodeToString(h.Sum(nil))
	if wantSHA != "" && sum != wantSHA {
		f.Close()
		_ = os.Remove(partial)
		return hashError{fmt.Errorf("%s: SHA-256 mismatch: got %s, want %s (corrupted download or a changed upstream file); the download was discarded", t.file, sum, wantSHA)}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return p.writeFailed(t, partial, err)
	}
	if err := f.Close(); err != nil {
		return p.writeFailed(t, partial, err)
	}
	if err := os.Rename(partial, final); err != nil {
		return diskError(p.dir, t, err)
	}
	syncDir(p.dir)
	if wantSHA == "" {
		p.prog.note("%s: no SHA-256 published, only the size was checked", t.file)
	} else {
		p.prog.note("%s: SHA-256 verified, saved to %s", t.file, final)
	}
	return nil
}

// writeFailed reports a failed write; a full disk also removes the partial
// file, to give the space back.
func (p *puller) writeFailed(t target, partial string, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		_ = os.Remove(partial)
	}
	return diskError(p.dir, t, err)
}

func (p *puller) statusError(t target, resp *http.Response) error {
	code := resp.StatusCode
	where := t.url
	status := fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))
	switch {
	case code == http.StatusNotFound:
		if t.hub {
			return fmt.Errorf("%s: %s: no file %s in %s (check the repository and file names) at %s", t.file, status, t.file, t.repo, where)
		}
		return fmt.Errorf("%s: %s at %s", t.file, status, where)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		switch {
		case !t.hub:
			return fmt.Errorf("%s: %s at %s: the server refused access", t.file, status, where)
		case p.token == "":
			return fmt.Errorf("%s: %s at %s: the repository %s is gated, private or missing: set %s to a Hugging Face access token that can read it", t.file, status, where, t.repo, EnvToken)
		case code == http.StatusUnauthorized:
			return fmt.Errorf("%s: %s at %s: the Hub rejected %s (expired or mistyped?), or %s does not exist", t.file, status, where, EnvToken, t.repo)
		default:
			return fmt.Errorf("%s: %s at %s: %s has no access to %s (gated: accept its terms on the Hub first)", t.file, status, where, EnvToken, t.repo)
		}
	case code == http.StatusTooManyRequests || code >= 500:
		return retryable{fmt.Errorf("%s: %s at %s", t.file, status, where)}
	}
	return fmt.Errorf("%s: %s at %s", t.file, status, where)
}

// requestError explains a request that got no answer; a name that does
// not resolve or a certificate that does not verify is not tried again.
func requestError(t target, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	err = fmt.Errorf("%s: cannot reach %s: %w", t.file, hostOf(t.url), err)
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return fmt.Errorf("%w (no network? cached files work offline)", err)
	}
	var cert *tls.CertificateVerificationError
	if errors.As(err, &cert) {
		return err
	}
	return retryable{err}
}

func sizeError(t target, got, want int64) error {
	return fmt.Errorf("%s: wrong size: the server sends %d bytes, expected %d; the download was discarded", t.file, got, want)
}

func htmlError(t target) error {
	return fmt.Errorf("%s: got an HTML page instead of the file from %s (a wrong URL, or a login or consent page)", t.file, t.url)
}

// diskError explains a failure to write into the cache directory.
func diskError(dir string, t target, err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		need := ""
		if t.size > 0 {
			need = " (it needs " + formatBytes(t.size) + ")"
		}
		return fmt.Errorf("%s: no space left on the device of the cache directory %s%s; the partial download was removed: free some space or set %s to another directory", t.file, dir, need, EnvHome)
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%s: cannot write to the cache directory %s: %v; set %s to a writable directory", t.file, dir, unwrapPath(err), EnvHome)
	}
	return fmt.Errorf("%s: %w", t.file, err)
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// partialFile is what a download writes into; tests replace openPartial to
// simulate a full disk.
type partialFile interface {
	io.ReadWriteSeeker
	io.Closer
	Sync() error
}

var openPartial = func(name string, flag int) (partialFile, error) {
	return os.OpenFile(name, flag, 0o644)
}

// errWriter remembers a write error, to tell it from a read error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	n, err := e.w.Write(b)
	if err != nil {
		e.err = err
	}
	return n, err
}

// syncDir makes a rename durable; directories cannot be synced on Windows.
func syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// contentRange parses "bytes FIRST-LAST/TOTAL" (or "bytes */TOTAL");
// total is 0 when given as "*".
func contentRange(s string) (first, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	if tot != "*" {
		n, err := strconv.ParseInt(tot, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false
		}
		total = n
	}
	if rng == "*" {
		return 0, total, true
	}
	a, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 {
		return 0, 0, false
	}
	return first, total, true
}

func isHTML(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "text/html" || mt == "application/xhtml+xml")
}

// looksHTML recognises the start of an HTML page.
func looksHTML(head []byte) bool {
	head = bytes.TrimLeft(head, " \t\r\n\ufeff")
	lower := bytes.ToLower(head[:min(len(head), 16)])
	return bytes.HasPrefix(lower, []byte("<!doctype")) || bytes.HasPrefix(lower, []byte("<html"))
}

func hostOf(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		h := u[i+3:]
		if j := strings.IndexByte(h, '/'); j >= 0 {
			h = h[:j]
		}
		return h
	}
	return u
}
