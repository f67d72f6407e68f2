package hub

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"strings"
)

// DefaultEndpoint is the Hugging Face Hub, used when HF_ENDPOINT is unset.
const DefaultEndpoint = "https://huggingface.co"

// endpoint returns override, else $HF_ENDPOINT, else the Hub, without a
// trailing slash.
func endpoint(override string) string {
	e := override
	if e == "" {
		e = os.Getenv(EnvEndpoint)
	}
	if e == "" {
		e = DefaultEndpoint
	}
	return strings.TrimRight(e, "/")
}

// target is one file to fetch or find.
type target struct {
	ref  string // how to name it in a `rwkv-chat pull` command
	file string // its name in the cache
	url  string // where to fetch it; "" for a bare file name
	// hub is set for files on the Hugging Face endpoint: the token is sent
	// and X-Linked-Size/X-Linked-Etag give the expected size and hash.
	hub  bool
	repo string
	// Expected size and SHA-256; zero when unknown.
	size   int64
	sha256 string
	entry  *Entry // the catalogue entry, nil for other files
}

// hubURL is the /resolve/ URL of file (a path inside the repository).
func hubURL(ep, repo, rev, file string) string {
	segs := strings.Split(repo+"/resolve/"+rev+"/"+file, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return ep + "/" + strings.Join(segs, "/")
}

func entryTarget(e Entry, ep string) target {
	t := target{ref: e.Name, file: e.File, url: e.URL, repo: e.Repo, size: e.Size, sha256: e.SHA256, entry: &e}
	if e.Repo != "" {
		t.url = hubURL(ep, e.Repo, "main", e.File)
		t.hub = true
	}
	return t
}

// parseRef turns what the user typed into a target: "" (the default model),
// a catalogue name or file name, hf.co/OWNER/REPO/FILE (huggingface.co/...,
// optionally with resolve/REV/ or blob/REV/ before FILE) or an http(s) URL.
// With bare, any other plain file name is accepted as a file of the cache.
func parseRef(ref string, c *Catalog, ep string, bare bool) (target, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		ref = c.Default
	}
	if e, ok := c.Lookup(ref); ok {
		return entryTarget(e, ep), nil
	}
	for _, p := range []string{"hf.co/", "huggingface.co/"} {
		if strings.HasPrefix(ref, p) {
			return hubTarget(ref, strings.TrimPrefix(ref, p), c, ep, ep)
		}
	}
	if strings.HasPrefix(ref, "https://") || strings.HasPrefix(ref, "http://") {
		return urlTarget(ref, c, ep)
	}
	if bare && checkFileName(ref) == nil {
		return target{ref: ref, file: ref}, nil
	}
	return target{}, fmt.Errorf("unknown model %q: not in the catalogue (%s); give hf.co/OWNER/REPO/FILE or an https URL",
		ref, strings.Join(c.Names(), ", "))
}

// hubTarget parses OWNER/REPO/[resolve|blob/REV/]FILE and fetches it from
// base (the endpoint, or the host of a URL the user gave).
func hubTarget(ref, rest string, c *Catalog, ep, base string) (target, error) {
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	if len(parts) < 3 {
		return target{}, fmt.Errorf("%q: want hf.co/OWNER/REPO/FILE", ref)
	}
	repo, rev, fileParts := parts[0]+"/"+parts[1], "main", parts[2:]
	if (parts[2] == "resolve" || parts[2] == "blob") && len(parts) >= 5 {
		rev, fileParts = parts[3], parts[4:]
	}
	if !repoName.MatchString(repo) {
		return target{}, fmt.Errorf("%q: %q is not a repository name OWNER/REPO", ref, repo)
	}
	for _, p := range fileParts {
		if p == "" || p == "." || p == ".." {
			return target{}, fmt.Errorf("%q: bad file path %q", ref, strings.Join(fileParts, "/"))
		}
	}
	file := fileParts[len(fileParts)-1]
	if err := checkFileName(file); err != nil {
		return target{}, fmt.Errorf("%q: %v", ref, err)
	}
	if rev == "main" && len(fileParts) == 1 {
		if e, ok := c.byRepoFile(repo, file); ok && base == ep {
			return entryTarget(e, ep), nil
		}
	}
	return target{
		ref:  ref,
		file: file,
		url:  hubURL(base, repo, rev, strings.Join(fileParts, "/")),
		hub:  true,
		repo: repo,
	}, nil
}

// urlTarget handles a full URL. Hub page URLs (…/blob/REV/FILE) are turned
// into their /resolve/ download URLs.
func urlTarget(ref string, c *Catalog, ep string) (target, error) {
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" {
		return target{}, fmt.Errorf("%q is not a valid URL", ref)
	}
	if u.User != nil {
		return target{}, fmt.Errorf("%q: credentials in URLs are not supported (set %s for the Hub)", redact(u), EnvToken)
	}
	epURL, _ := url.Parse(ep)
	host := strings.ToLower(u.Hostname())
	onHub := host == "huggingface.co" || host == "hf.co" || (epURL != nil && strings.EqualFold(u.Host, epURL.Host))
	if onHub && u.RawQuery == "" {
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		if len(parts) >= 5 && (parts[2] == "resolve" || parts[2] == "blob") {
			base := u.Scheme + "://" + u.Host
			if epURL != nil && strings.EqualFold(u.Host, epURL.Host) {
				base = ep
			}
			t, err := hubTarget(ref, u.Path, c, ep, base)
			if err == nil && t.entry == nil {
				t.ref = ref
			}
			return t, err
		}
	}
	file := path.Base(u.Path)
	if err := checkFileName(file); err != nil {
		return target{}, fmt.Errorf("%q: cannot name the file after the URL: %v", ref, err)
	}
	return target{ref: ref, file: file, url: u.String(), hub: onHub}, nil
}

func redact(u *url.URL) string {
	v := *u
	v.User = nil
	return v.String()
}
