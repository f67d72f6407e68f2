// Package hub downloads model and tokenizer files into the local cache and
// finds them there: the catalogue of recommended models (catalog.json), the
// cache directory, and Pull, which fetches a catalogue model, a Hugging Face
// file or a URL with progress, resume and verification.
package hub

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
)

// Entry is one file of the catalogue: a model or a tokenizer.
type Entry struct {
	// Name is what users type: "rwkv7-g1d-0.1b", or "world" for the
	// tokenizer.
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// File is the file's name, upstream and in the cache.
	File string `json:"file"`
	// Repo is the Hugging Face repository ("BlinkDL/rwkv7-g1"); the file is
	// fetched from {HF_ENDPOINT}/{Repo}/resolve/main/{File}. Entries not on
	// the Hub give URL instead.
	Repo string `json:"repo,omitempty"`
	URL  string `json:"url,omitempty"`
	// Size in bytes and lower-case hex SHA-256 of the file.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Models only: the RWKV architecture version, the chat template and the
	// name of the tokenizer entry the model needs.
	Version   string `json:"version,omitempty"`
	Template  string `json:"template,omitempty"`
	Tokenizer string `json:"tokenizer,omitempty"`
}

// IsModel reports whether e is a model (it names the tokenizer it needs).
func (e Entry) IsModel() bool { return e.Tokenizer != "" }

// Catalog is the list of known files. The built-in one is catalog.json,
// embedded in the binary.
type Catalog struct {
	// Default names the model used when none is given.
	Default    string  `json:"default"`
	Models     []Entry `json:"models"`
	Tokenizers []Entry `json:"tokenizers"`
}

//go:embed catalog.json
var catalogJSON []byte

var builtin = mustParse(catalogJSON)

// current is the catalogue in use: the built-in one unless a test replaced
// it with UseCatalog.
var current atomic.Pointer[Catalog]

func init() { current.Store(builtin) }

func mustParse(data []byte) *Catalog {
	c, err := ParseCatalog(data)
	if err != nil {
		panic("hub: built-in catalog.json: " + err.Error())
	}
	return c
}

// Builtin returns the catalogue embedded in the binary.
func Builtin() *Catalog { return builtin }

// Current returns the catalogue in use.
func Current() *Catalog { return current.Load() }

// UseCatalog replaces the catalogue in use (tests use it to serve files whose
// hashes they know) and returns a function that restores the previous one.
func UseCatalog(c *Catalog) (restore func()) {
	if err := c.Validate(); err != nil {
		panic("hub: UseCatalog: " + err.Error())
	}
	old := current.Swap(c)
	return func() { current.Store(old) }
}

// DefaultModel returns the catalogue's default model. The built-in default
// is "rwkv7-g1d-0.1b" (rwkv7-g1d-0.1b-20260129-ctx8192.pth, 382 MB): the
// smallest current RWKV-7 G1 model, so the first download is short and it
// chats at interactive speed on any CPU; larger models are one
// `rwkv-chat pull NAME` away.
func DefaultModel() Entry {
	c := Current()
	e, _ := c.Lookup(c.Default)
	return e
}

// Lookup finds an entry by name or by file name, models first.
func (c *Catalog) Lookup(name string) (Entry, bool) {
	for _, list := range [][]Entry{c.Models, c.Tokenizers} {
		for _, e := range list {
			if e.Name == name || e.File == name {
				return e, true
			}
		}
	}
	return Entry{}, false
}

// ByFile finds the entry whose file is called file.
func (c *Catalog) ByFile(file string) (Entry, bool) {
	for _, list := range [][]Entry{c.Models, c.Tokenizers} {
		for _, e := range list {
			if e.File == file {
				return e, true
			}
		}
	}
	return Entry{}, false
}

// byRepoFile finds the entry that lives at repo/file on the Hub.
func (c *Catalog) byRepoFile(repo, file string) (Entry, bool) {
	for _, list := range [][]Entry{c.Models, c.Tokenizers} {
		for _, e := range list {
			if e.Repo != "" && strings.EqualFold(e.Repo, repo) && e.File == file {
				return e, true
			}
		}
	}
	return Entry{}, false
}

// tokenizer returns the tokenizer entry model e needs.
func (c *Catalog) tokenizer(e Entry) (Entry, bool) {
	if e.Tokenizer == "" {
		return Entry{}, false
	}
	for _, t := range c.Tokenizers {
		if t.Name == e.Tokenizer {
			return t, true
		}
	}
	return Entry{}, false
}

// Names lists the model names.
func (c *Catalog) Names() []string {
	var n []string
	for _, e := range c.Models {
		n = append(n, e.Name)
	}
	return n
}

// ParseCatalog reads and validates a catalogue in the catalog.json format.
func ParseCatalog(data []byte) (*Catalog, error) {
	var c Catalog
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("catalogue: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

var (
	hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)
	repoName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// Validate checks that names and files are unique and well formed, that
// every entry has a source, a size and a hash, that each model's tokenizer
// exists and that the default is a model.
func (c *Catalog) Validate() error {
	names := map[string]bool{}
	files := map[string]bool{}
	check := func(e Entry, model bool) error {
		switch {
		case e.Name == "":
			return fmt.Errorf("catalogue: an entry has no name")
		case names[e.Name]:
			return fmt.Errorf("catalogue: name %q appears twice", e.Name)
		case files[e.File]:
			return fmt.Errorf("catalogue: file %q appears twice", e.File)
		case checkFileName(e.File) != nil:
			return fmt.Errorf("catalogue: %s: %v", e.Name, checkFileName(e.File))
		case (e.Repo == "") == (e.URL == ""):
			return fmt.Errorf("catalogue: %s: give exactly one of repo and url", e.Name)
		case e.Repo != "" && !repoName.MatchString(e.Repo):
			return fmt.Errorf("catalogue: %s: repo %q is not OWNER/NAME", e.Name, e.Repo)
		case e.URL != "" && !strings.HasPrefix(e.URL, "https://") && !strings.HasPrefix(e.URL, "http://"):
			return fmt.Errorf("catalogue: %s: url %q is not http(s)", e.Name, e.URL)
		case e.Size <= 0:
			return fmt.Errorf("catalogue: %s: size must be positive", e.Name)
		case !hexSHA256.MatchString(e.SHA256):
			return fmt.Errorf("catalogue: %s: sha256 must be 64 lower-case hex digits", e.Name)
		case model && e.Tokenizer == "":
			return fmt.Errorf("catalogue: model %s names no tokenizer", e.Name)
		case !model && e.Tokenizer != "":
			return fmt.Errorf("catalogue: tokenizer %s names a tokenizer", e.Name)
		}
		names[e.Name] = true
		files[e.File] = true
		return nil
	}
	for _, e := range c.Tokenizers {
		if err := check(e, false); err != nil {
			return err
		}
	}
	for _, e := range c.Models {
		if err := check(e, true); err != nil {
			return err
		}
		if _, ok := c.tokenizer(e); !ok {
			return fmt.Errorf("catalogue: model %s needs tokenizer %q, which is not listed", e.Name, e.Tokenizer)
		}
	}
	found := false
	for _, e := range c.Models {
		found = found || e.Name == c.Default
	}
	if !found {
		return fmt.Errorf("catalogue: default %q is not a model of the catalogue", c.Default)
	}
	return nil
}

// checkFileName refuses names that are not a plain file name in the cache.
func checkFileName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("%q is not a file name", name)
	case strings.ContainsAny(name, `/\:`) || filepath.Base(name) != name:
		return fmt.Errorf("file name %q has a path separator", name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("file name %q starts with a dot", name)
	case strings.HasSuffix(name, partialSuffix):
		return fmt.Errorf("file name %q ends in %s", name, partialSuffix)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("file name %q has a control character", name)
		}
	}
	return nil
}
