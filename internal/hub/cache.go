package hub

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Environment variables read by the package.
const (
	// EnvHome overrides the cache directory.
	EnvHome = "RWKV_CHAT_HOME"
	// EnvOffline set to 1 (or true) forbids any network access.
	EnvOffline = "RWKV_CHAT_OFFLINE"
	// EnvEndpoint is the Hugging Face endpoint, https://huggingface.co by
	// default (a mirror, or a test server).
	EnvEndpoint = "HF_ENDPOINT"
	// EnvToken is the Hugging Face access token for gated or private files.
	EnvToken = "HF_TOKEN"
)

const partialSuffix = ".partial"

// Dir returns the cache directory: $RWKV_CHAT_HOME when set, else
// os.UserCacheDir()/rwkv-chat. It does not create it.
func Dir() (string, error) {
	if d := os.Getenv(EnvHome); d != "" {
		return filepath.Abs(d)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no user cache directory (%v): set %s to a directory for models", err, EnvHome)
	}
	return filepath.Join(base, "rwkv-chat"), nil
}

// OfflineFromEnv reports whether RWKV_CHAT_OFFLINE asks for offline mode
// (a true value of strconv.ParseBool: 1, t, true…, as for the --offline
// flag it also sets).
func OfflineFromEnv() bool {
	on, err := strconv.ParseBool(strings.TrimSpace(os.Getenv(EnvOffline)))
	return err == nil && on
}

// ErrNotCached is matched (errors.Is) by the error of a file that is not in
// the cache.
var ErrNotCached = errors.New("not in the cache")

// NotCachedError says that a file is missing from the cache and which
// command fetches it.
type NotCachedError struct {
	Ref  string // what to pass to `rwkv-chat pull`
	File string // the file's name
	Dir  string // the cache directory
	// Offline is set when the file could not be fetched because offline
	// mode is on.
	Offline bool
}

func (e *NotCachedError) Error() string {
	what := e.File
	if e.Ref != e.File {
		what = fmt.Sprintf("%s (%s)", e.Ref, e.File)
	}
	msg := fmt.Sprintf("%s is not in the cache %s", what, e.Dir)
	if e.Offline {
		msg += " and offline mode is on"
	}
	return msg + "; fetch it with: " + e.Command()
}

// Command is the command line that downloads the missing file.
func (e *NotCachedError) Command() string { return "rwkv-chat pull " + shellQuote(e.Ref) }

func (e *NotCachedError) Is(target error) bool { return target == ErrNotCached }

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9._/:@+=,%-]+$`)

func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Resolve returns the path of ref in the cache without touching the network.
// ref is a catalogue name, a file name, hf.co/OWNER/REPO/FILE or a URL; ""
// means the default model. A file that is missing, or a catalogue file whose
// size is wrong, gives an error naming the pull command that fetches it
// (errors.Is(err, ErrNotCached) for a missing file).
func Resolve(ref string) (string, error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	t, err := parseRef(ref, Current(), endpoint(""), true)
	if err != nil {
		return "", err
	}
	return lookupCached(dir, t, false)
}

// TokenizerPath returns the cached path of the tokenizer that the catalogue
// model ref needs. For a file outside the catalogue it returns "" and no
// error: the caller must find the tokenizer another way.
func TokenizerPath(ref string) (string, error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	c := Current()
	t, err := parseRef(ref, c, endpoint(""), true)
	if err != nil {
		return "", err
	}
	if t.entry == nil {
		return "", nil
	}
	tok, ok := c.tokenizer(*t.entry)
	if !ok {
		return "", nil
	}
	tt := entryTarget(tok, endpoint(""))
	tt.ref = t.ref // pulling the model brings its tokenizer
	return lookupCached(dir, tt, false)
}

// lookupCached returns the path of t in dir, or a NotCachedError.
func lookupCached(dir string, t target, offline bool) (string, error) {
	path := filepath.Join(dir, t.file)
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("cache: %w", err)
		}
		return "", &NotCachedError{Ref: t.ref, File: t.file, Dir: dir, Offline: offline}
	}
	if t.size > 0 && fi.Size() != t.size {
		return "", fmt.Errorf("cached %s has %d bytes, not the %d the catalogue gives; fetch it again with: rwkv-chat pull %s",
			path, fi.Size(), t.size, shellQuote(t.ref))
	}
	return path, nil
}

// CachedFile is one file of the cache directory.
type CachedFile struct {
	Name string // the file name on disk
	Path string
	Size int64
	// Partial marks an unfinished download (NAME.partial); pulling the same
	// file again resumes it.
	Partial bool
	// Entry is the catalogue entry of the file, nil when it is not one.
	Entry *Entry
}

// Cached lists the files of the cache directory by name, unfinished
// downloads included. A cache directory that does not exist yet is empty.
func Cached() ([]CachedFile, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	c := Current()
	var out []CachedFile
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") || !de.Type().IsRegular() {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue // removed meanwhile
		}
		f := CachedFile{Name: name, Path: filepath.Join(dir, name), Size: fi.Size()}
		base := name
		if strings.HasSuffix(name, partialSuffix) {
			f.Partial = true
			base = strings.TrimSuffix(name, partialSuffix)
		}
		if e, ok := c.ByFile(base); ok {
			f.Entry = &e
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
