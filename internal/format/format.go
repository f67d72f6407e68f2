// Package format opens model files — rwkv.cpp ggml .bin, PyTorch .pth and
// safetensors — and returns their tensors as typed views over the (memory
// mapped) file. The format is recognised from the content, never from the
// file name. Every reader validates sizes before slicing, so a damaged file
// yields an error, never a panic.
package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// Format names reported by Detect and File.Format.
const (
	FormatRWKVCpp     = "rwkv.cpp"
	FormatPth         = "pth"
	FormatSafetensors = "safetensors"
	FormatGGUF        = "gguf"
)

// Limits applied before anything is allocated.
const (
	maxTensors  = 1_000_000
	maxDim      = 1 << 40
	maxDims     = 8 // .pth/safetensors; rwkv.cpp allows 1..4
	maxNameLen  = 4096
	maxHeaderSz = 100 << 20 // safetensors JSON header
)

// File is an opened model file; tensors point into an mmap of the file when possible.
type File struct {
	Path    string
	Format  string            // "rwkv.cpp", "pth", "safetensors" (later "gguf")
	Tensors []*tensor.Tensor  // in file order, Shape in PyTorch order (outermost first), Data raw little-endian bytes
	Meta    map[string]string // format metadata (rwkv.cpp: "file_version", "n_vocab", "n_embed", "n_layer", "data_type"; safetensors __metadata__)
	// Transformed is true when the values are already in the rwkv.cpp converter's form (spec §6.4: v4 decay = -exp, v5 decays exp(-exp), LoRA transposed to (out,in), x_rwkvag concatenated).
	Transformed bool

	byName map[string]*tensor.Tensor
	unmap  func() error
}

// Open detects the format of the file at path from its first bytes, maps it
// into memory and parses it. Tensor data stays valid until Close. Errors are
// one line naming the file and the problem.
func Open(path string) (*File, error) {
	data, unmap, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", path, oneLine(errText(err)))
	}
	f, err := Parse(path, data)
	if err != nil {
		if unmap != nil {
			_ = unmap()
		}
		return nil, err
	}
	f.unmap = unmap
	return f, nil
}

// errText drops the "open <path>: " prefix that os errors repeat.
func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// Parse reads a model file already in memory. name is used in errors and as
// File.Path. The tensors point into data, which must outlive them and must
// not be modified.
func Parse(name string, data []byte) (*File, error) {
	f := &File{Path: name, Meta: map[string]string{}}
	var err error
	switch f.Format = Detect(data); f.Format {
	case FormatRWKVCpp:
		f.Transformed = true
		err = f.parseGGML(data)
	case FormatPth:
		err = f.parsePth(data)
	case FormatSafetensors:
		err = f.parseSafetensors(data)
	case FormatGGUF:
		err = f.parseGGUF(data)
	default:
		err = unknownFormat(data)
	}
	if err == nil {
		err = f.finish()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %s", name, oneLine(err.Error()))
	}
	return f, nil
}

// finish checks every tensor and builds the name index.
func (f *File) finish() error {
	f.byName = make(map[string]*tensor.Tensor, len(f.Tensors))
	for _, t := range f.Tensors {
		if err := t.Check(); err != nil {
			return err
		}
		if _, dup := f.byName[t.Name]; dup {
			return fmt.Errorf("tensor %s appears twice", quoteName(t.Name))
		}
		f.byName[t.Name] = t
	}
	return nil
}

// Close releases the file mapping. The tensors must not be used afterwards.
func (f *File) Close() error {
	if f == nil || f.unmap == nil {
		return nil
	}
	u := f.unmap
	f.unmap = nil
	return u()
}

// Get returns the tensor called name, or nil when the file has none.
func (f *File) Get(name string) *tensor.Tensor {
	if f == nil {
		return nil
	}
	return f.byName[name]
}

// ggmlMagic is "fmgg" on disk (rwkv.cpp, spec §6.1).
const ggmlMagic = 0x67676d66

// Detect names the format of a file from its first bytes (at least 16 are
// needed for safetensors): "rwkv.cpp", "pth", "safetensors", "gguf" or "".
// A zip archive is reported as "pth"; whether it really is a torch.save
// archive is decided when it is parsed.
func Detect(head []byte) string {
	switch {
	case len(head) >= 4 && binary.LittleEndian.Uint32(head) == ggmlMagic:
		return FormatRWKVCpp
	case len(head) >= 4 && string(head[:4]) == "GGUF":
		return FormatGGUF
	case len(head) >= 4 && string(head[:4]) == "PK\x03\x04":
		return FormatPth
	case len(head) >= 9 && binary.LittleEndian.Uint64(head) < 1<<32 && isSafetensorsStart(head[8:]):
		return FormatSafetensors
	}
	return ""
}

// isSafetensorsStart accepts a JSON object start: '{' after optional blanks.
func isSafetensorsStart(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}

func unknownFormat(data []byte) error {
	switch {
	case len(data) == 0:
		return errors.New("empty file")
	case len(data) >= 4 && (string(data[:4]) == "PK\x05\x06" || string(data[:4]) == "PK\x07\x08"):
		return errors.New("empty or split zip archive, not a torch.save file")
	case len(data) >= 2 && data[0] == 0x80 && data[1] <= 5:
		return errors.New("legacy (non-zip) PyTorch file; re-save it with torch.save from PyTorch >= 1.6")
	case len(data) >= 4:
		m := binary.LittleEndian.Uint32(data)
		if m == 0x67676a74 || m == 0x67676d6c || m == 0x6767666d {
			return fmt.Errorf("llama.cpp pre-GGUF file (magic %#08x), not an rwkv.cpp model", m)
		}
	}
	n := min(len(data), 8)
	return fmt.Errorf("unknown file format (first bytes % x); expected rwkv.cpp .bin, .pth or .safetensors", data[:n])
}

// quoteName prints a name read from a file as is when it is plain printable
// text, and Go-quoted otherwise, so that errors stay on one line.
func quoteName(s string) string {
	if len(s) > 200 {
		return strconv.Quote(s[:200]) + "..."
	}
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) || r == ' ' {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

// oneLine replaces line breaks so that an error is always one line.
func oneLine(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ' '
		}
	}
	return string(b)
}

func truncErr(what string, need, off, size int64) error {
	return fmt.Errorf("truncated: %s needs %d bytes at offset %d, file has %d", what, need, off, size)
}
