package tokenizer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Environment variables read by Select.
const (
	// EnvTokenizer names a vocabulary file, or a directory holding one.
	EnvTokenizer = "RWKV_CHAT_TOKENIZER"
	// EnvHome replaces the user cache directory (os.UserCacheDir()/rwkv-chat).
	EnvHome = "RWKV_CHAT_HOME"
)

// Where the vocabulary files can be downloaded (they are not shipped).
const (
	WorldURL = "https://raw.githubusercontent.com/BlinkDL/ChatRWKV/main/tokenizer/" + WorldFile
	NeoXURL  = "https://raw.githubusercontent.com/BlinkDL/RWKV-LM/main/RWKV-v4/" + NeoXFile
)

// KindForVocab returns the tokenizer a model of vocabulary size v needs
// (spec §2.2): "world" for 65536, "neox" for 50277 and 50304, "bytes" for
// 256, "" otherwise.
func KindForVocab(v int) string {
	switch v {
	case 65536:
		return "world"
	case 50277, 50304:
		return "neox"
	case 256:
		return "bytes"
	}
	return ""
}

// FileName returns the vocabulary file name of a tokenizer kind.
func FileName(kind string) string {
	switch kind {
	case "world":
		return WorldFile
	case "neox":
		return NeoXFile
	}
	return ""
}

func kindLabel(kind string) string {
	switch kind {
	case "world":
		return "World (" + WorldFile + ")"
	case "neox":
		return "GPT-NeoX 20B (" + NeoXFile + ")"
	}
	return "bytes"
}

// CacheDir returns the directory where rwkv-chat keeps downloaded files:
// $RWKV_CHAT_HOME, or os.UserCacheDir()/rwkv-chat.
func CacheDir() (string, error) {
	if h := os.Getenv(EnvHome); h != "" {
		return h, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "rwkv-chat"), nil
}

// Select returns the tokenizer for a model whose vocabulary has modelVocab
// entries (0 if unknown), from modelPath (may be empty).
//
// override is "" (choose by vocabulary: 65536 → world, 50277/50304 → neox,
// 256 → bytes), "world", "neox", "bytes", the path of a vocabulary file, or a
// directory holding the file the model's vocabulary needs.
// The vocabulary file is looked for in this order: the override path,
// $RWKV_CHAT_TOKENIZER (a file or a directory), the directory of modelPath,
// then the cache directory (see CacheDir) and its tokenizers subdirectory.
// A tokenizer that does not fit the model's vocabulary (a World model with
// the NeoX vocabulary or the reverse) is refused.
func Select(modelVocab int, override string, modelPath string) (Tokenizer, error) {
	want := KindForVocab(modelVocab)
	var kind string
	switch override {
	case "":
		if modelVocab <= 0 {
			return nil, errors.New("the model's vocabulary size is unknown: choose a tokenizer with --tokenizer world|neox|bytes|PATH")
		}
		if want == "" {
			return nil, fmt.Errorf("no known tokenizer has a vocabulary of %d (World 65536, GPT-NeoX 20B 50277/50304, bytes 256): choose one with --tokenizer world|neox|bytes|PATH", modelVocab)
		}
		kind = want
	case "world", "neox", "bytes":
		kind = override
	default:
		if st, err := os.Stat(override); err == nil && st.IsDir() {
			return selectInDir(want, modelVocab, override)
		}
		k, err := sniffKind(override)
		if err != nil {
			return nil, fmt.Errorf("tokenizer %s: %w", override, err)
		}
		if err := checkFit(k, modelVocab, override); err != nil {
			return nil, err
		}
		t, err := load(k, override)
		if err != nil {
			return nil, err
		}
		return t, checkSize(t, modelVocab)
	}
	if err := checkFit(kind, modelVocab, ""); err != nil {
		return nil, err
	}
	if kind == "bytes" {
		return Bytes(), nil
	}
	path, err := Find(kind, modelPath)
	if err != nil {
		return nil, err
	}
	t, err := load(kind, path)
	if err != nil {
		return nil, err
	}
	return t, checkSize(t, modelVocab)
}

// selectInDir loads the vocabulary a model needs from directory dir.
func selectInDir(kind string, modelVocab int, dir string) (Tokenizer, error) {
	if kind == "" {
		return nil, fmt.Errorf("tokenizer %s is a directory: with a model vocabulary of %d, name the file or world|neox|bytes", dir, modelVocab)
	}
	if kind == "bytes" {
		return Bytes(), nil
	}
	p := filepath.Join(dir, FileName(kind))
	if _, err := os.Stat(p); err != nil {
		return nil, fmt.Errorf("the %s tokenizer file %s was not found (%s). Get it with `rwkv-chat pull`, or download %s", kindLabel(kind), p, errText(err), downloadURL(kind))
	}
	t, err := load(kind, p)
	if err != nil {
		return nil, err
	}
	return t, checkSize(t, modelVocab)
}

func downloadURL(kind string) string {
	if kind == "neox" {
		return NeoXURL
	}
	return WorldURL
}

// checkFit refuses a tokenizer kind that is not the one a known vocabulary
// size needs.
func checkFit(kind string, modelVocab int, path string) error {
	want := KindForVocab(modelVocab)
	if want == "" || want == kind {
		return nil
	}
	what := "the " + kindLabel(kind) + " tokenizer"
	if path != "" {
		what = path + ", a " + kindLabel(kind) + " vocabulary,"
	}
	return fmt.Errorf("refusing %s for a model with a vocabulary of %d, which needs the %s tokenizer: the ids would not match and the output would be gibberish", what, modelVocab, kindLabel(want))
}

// checkSize refuses a tokenizer that produces ids the model does not have.
func checkSize(t Tokenizer, modelVocab int) error {
	if modelVocab > 0 && t.VocabSize() > modelVocab {
		return fmt.Errorf("the %s tokenizer has %d ids but the model's vocabulary only %d", t.Name(), t.VocabSize(), modelVocab)
	}
	return nil
}

func load(kind, path string) (Tokenizer, error) {
	switch kind {
	case "world":
		return LoadWorld(path)
	case "neox":
		return LoadNeoX(path)
	}
	return nil, fmt.Errorf("unknown tokenizer %q", kind)
}

// sniffKind tells a NeoX JSON ("{" first) from a World vocabulary.
func sniffKind(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if st.IsDir() {
		return "", errors.New("is a directory, not a vocabulary file")
	}
	buf := make([]byte, 512)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", err
	}
	head := bytes.TrimLeft(buf[:n], " \t\r\n\ufeff")
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	switch {
	case len(head) == 0:
		return "", errors.New("empty file")
	case head[0] == '{':
		return "neox", nil
	case head[0] >= '0' && head[0] <= '9':
		return "world", nil
	}
	return "", errors.New("neither a World vocabulary (rwkv_vocab_v20230424.txt) nor a tokenizer JSON (20B_tokenizer.json)")
}

// Find returns the path of the vocabulary file of kind ("world" or "neox"),
// looked for in $RWKV_CHAT_TOKENIZER, the directory of modelPath and the
// cache directory. The error says where it looked and how to get the file.
func Find(kind, modelPath string) (string, error) {
	name := FileName(kind)
	if name == "" {
		return "", fmt.Errorf("tokenizer %q has no vocabulary file", kind)
	}
	var looked []string
	try := func(p, why string) bool {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return true
		}
		looked = append(looked, p+" ("+why+")")
		return false
	}
	if env := os.Getenv(EnvTokenizer); env != "" {
		st, err := os.Stat(env)
		switch {
		case err != nil:
			looked = append(looked, env+" ($"+EnvTokenizer+": "+errText(err)+")")
		case st.IsDir():
			if p := filepath.Join(env, name); try(p, "$"+EnvTokenizer) {
				return p, nil
			}
		default:
			k, err := sniffKind(env)
			if err == nil && k == kind {
				return env, nil
			}
			why := "not a " + kind + " vocabulary"
			if err != nil {
				why = errText(err)
			} else {
				why = "a " + k + " vocabulary, not " + kind
			}
			looked = append(looked, env+" ($"+EnvTokenizer+": "+why+")")
		}
	} else {
		looked = append(looked, "$"+EnvTokenizer+" (not set)")
	}
	if modelPath != "" {
		if p := filepath.Join(filepath.Dir(modelPath), name); try(p, "next to the model") {
			return p, nil
		}
	}
	if dir, err := CacheDir(); err == nil {
		for _, p := range []string{filepath.Join(dir, name), filepath.Join(dir, "tokenizers", name)} {
			if try(p, "cache") {
				return p, nil
			}
		}
	} else {
		looked = append(looked, "cache directory ("+errText(err)+")")
	}
	return "", fmt.Errorf("the %s tokenizer file was not found; looked in: %s. Get it with `rwkv-chat pull`, or download %s and put it next to the model, in the cache directory, or pass --tokenizer PATH",
		kindLabel(kind), strings.Join(looked, ", "), downloadURL(kind))
}

func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
