package tokenizer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"unicode/utf8"
)

// WorldFile is the file name of the RWKV World vocabulary.
const WorldFile = "rwkv_vocab_v20230424.txt"

// maxWorldID bounds the ids a World vocabulary file may use.
const maxWorldID = 1 << 18

// World is the RWKV World tokenizer (spec §9.1): greedy longest match over
// the bytes of the input. Every byte string encodes, since ids 1–256 are the
// single bytes. Id 0 (end of text) is not a token.
type World struct {
	// tokens[offs[id]:offs[id+1]] are the bytes of id.
	tokens []byte
	offs   []uint32
	// The trie. Node 0 is the root; node n's children are the edges
	// edgeLab/edgeTo[first[n]:first[n+1]], sorted by label, or, for nodes with
	// many children, dense[denseIdx[n]*256+b] (−1 for none).
	nodeID   []int32 // token id ending at the node, 0 if none
	first    []uint32
	denseIdx []int32
	edgeLab  []byte
	edgeTo   []int32
	dense    []int32
	// root2 maps the first two input bytes to the node reached, or −1 when
	// no token starts with them (then the first byte is the longest match).
	root2 []int32
}

// LoadWorld reads a World vocabulary file (rwkv_vocab_v20230424.txt).
func LoadWorld(path string) (*World, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	w, err := ParseWorld(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

// ParseWorld parses the contents of a World vocabulary file. Each line is
// `<id> <Python str or bytes literal> <byte length>`; the literal may contain
// spaces, so the line is split at its first and last space.
func ParseWorld(data []byte) (*World, error) {
	type entry struct {
		id       int
		off, end int
	}
	var (
		arena   []byte
		entries []entry
		maxID   int
	)
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		i := bytes.IndexByte(line, ' ')
		j := bytes.LastIndexByte(line, ' ')
		if i < 0 || j <= i {
			return nil, fmt.Errorf("line %d: want `<id> <literal> <length>`", lineNo)
		}
		id, err := strconv.Atoi(string(line[:i]))
		if err != nil || id < 1 || id >= maxWorldID {
			return nil, fmt.Errorf("line %d: bad id %q", lineNo, line[:i])
		}
		n, err := strconv.Atoi(string(line[j+1:]))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("line %d: bad length %q", lineNo, line[j+1:])
		}
		off := len(arena)
		arena, err = appendPyLiteral(arena, line[i+1:j])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		if got := len(arena) - off; got != n {
			return nil, fmt.Errorf("line %d: literal has %d bytes, the line says %d", lineNo, got, n)
		}
		if n == 0 {
			return nil, fmt.Errorf("line %d: empty token", lineNo)
		}
		entries = append(entries, entry{id, off, len(arena)})
		maxID = max(maxID, id)
	}
	if len(entries) == 0 {
		return nil, errors.New("no tokens")
	}

	w := &World{offs: make([]uint32, maxID+2)}
	have := make([]bool, maxID+1)
	sort.Slice(entries, func(a, b int) bool { return entries[a].id < entries[b].id })
	w.tokens = make([]byte, 0, len(arena))
	for _, e := range entries {
		if have[e.id] {
			return nil, fmt.Errorf("id %d appears twice", e.id)
		}
		have[e.id] = true
	}
	pos := 0
	for id := 0; id <= maxID; id++ {
		w.offs[id] = uint32(len(w.tokens))
		if pos < len(entries) && entries[pos].id == id {
			e := entries[pos]
			w.tokens = append(w.tokens, arena[e.off:e.end]...)
			pos++
		}
	}
	w.offs[maxID+1] = uint32(len(w.tokens))
	if err := w.buildTrie(); err != nil {
		return nil, err
	}
	return w, nil
}

// appendPyLiteral appends the UTF-8 bytes of a Python str literal, or the
// bytes of a bytes literal (b'…'), to dst.
func appendPyLiteral(dst, lit []byte) ([]byte, error) {
	isBytes := false
	if len(lit) > 0 && (lit[0] == 'b' || lit[0] == 'B') {
		isBytes = true
		lit = lit[1:]
	}
	if len(lit) < 2 || (lit[0] != '\'' && lit[0] != '"') || lit[len(lit)-1] != lit[0] {
		return dst, fmt.Errorf("not a quoted literal: %q", lit)
	}
	q := lit[0]
	s := lit[1 : len(lit)-1]
	for len(s) > 0 {
		c := s[0]
		if c == q {
			return dst, errors.New("unescaped quote inside literal")
		}
		if c != '\\' {
			if isBytes && c >= 0x80 {
				return dst, errors.New("non-ASCII character in bytes literal")
			}
			if c < 0x80 {
				dst = append(dst, c)
				s = s[1:]
				continue
			}
			r, size := utf8.DecodeRune(s)
			if r == utf8.RuneError && size == 1 {
				return dst, errors.New("invalid UTF-8 in literal")
			}
			dst = append(dst, s[:size]...)
			s = s[size:]
			continue
		}
		if len(s) < 2 {
			return dst, errors.New("literal ends with a backslash")
		}
		e := s[1]
		s = s[2:]
		switch e {
		case '\n':
			// line continuation: nothing
		case '\\', '\'', '"':
			dst = append(dst, e)
		case 'a':
			dst = append(dst, '\a')
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'v':
			dst = append(dst, '\v')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(e - '0')
			for k := 0; k < 2 && len(s) > 0 && s[0] >= '0' && s[0] <= '7'; k++ {
				v = v*8 + int(s[0]-'0')
				s = s[1:]
			}
			if isBytes {
				if v > 0xFF {
					return dst, errors.New("octal escape out of range in bytes literal")
				}
				dst = append(dst, byte(v))
			} else {
				dst = utf8.AppendRune(dst, rune(v))
			}
		case 'x', 'u', 'U':
			n := 2
			if !isBytes && e == 'u' {
				n = 4
			} else if !isBytes && e == 'U' {
				n = 8
			} else if isBytes && e != 'x' {
				// \u and \U are not escapes in bytes literals
				dst = append(dst, '\\', e)
				continue
			}
			if len(s) < n {
				return dst, fmt.Errorf("truncated \\%c escape", e)
			}
			v, err := strconv.ParseUint(string(s[:n]), 16, 32)
			if err != nil {
				return dst, fmt.Errorf("bad \\%c escape %q", e, s[:n])
			}
			s = s[n:]
			if isBytes {
				dst = append(dst, byte(v))
				continue
			}
			if v > utf8.MaxRune || (v >= 0xD800 && v < 0xE000) {
				return dst, fmt.Errorf("escape \\%c%X is not a Unicode scalar value", e, v)
			}
			dst = utf8.AppendRune(dst, rune(v))
		default:
			// Python keeps unknown escapes as they are.
			if e >= 0x80 {
				return dst, errors.New("backslash before a non-ASCII character")
			}
			dst = append(dst, '\\', e)
		}
	}
	return dst, nil
}

// denseMin is the child count from which a trie node gets a 256-entry table.
const denseMin = 12

func (w *World) buildTrie() error {
	// Build a pointer-free intermediate trie with child maps, then flatten.
	type tmpNode struct {
		id       int32
		children map[byte]int32
	}
	nodes := []tmpNode{{}}
	nIDs := len(w.offs) - 1
	for id := 1; id < nIDs; id++ {
		tok := w.tokens[w.offs[id]:w.offs[id+1]]
		if len(tok) == 0 {
			continue
		}
		n := int32(0)
		for _, c := range tok {
			next, ok := nodes[n].children[c]
			if !ok {
				next = int32(len(nodes))
				nodes = append(nodes, tmpNode{})
				if nodes[n].children == nil {
					nodes[n].children = make(map[byte]int32, 2)
				}
				nodes[n].children[c] = next
			}
			n = next
		}
		if nodes[n].id != 0 {
			return fmt.Errorf("ids %d and %d have the same bytes %q", nodes[n].id, id, tok)
		}
		nodes[n].id = int32(id)
	}
	for c := 0; c < 256; c++ {
		child, ok := nodes[0].children[byte(c)]
		if !ok || nodes[child].id == 0 {
			return fmt.Errorf("no token for the single byte 0x%02X: every byte needs one", c)
		}
	}
	w.nodeID = make([]int32, len(nodes))
	w.first = make([]uint32, len(nodes)+1)
	w.denseIdx = make([]int32, len(nodes))
	labs := make([]byte, 0, 256)
	for i, n := range nodes {
		w.nodeID[i] = n.id
		w.first[i] = uint32(len(w.edgeLab))
		w.denseIdx[i] = -1
		labs = labs[:0]
		for c := range n.children {
			labs = append(labs, c)
		}
		sort.Slice(labs, func(a, b int) bool { return labs[a] < labs[b] })
		if len(labs) >= denseMin {
			w.denseIdx[i] = int32(len(w.dense) / 256)
			base := len(w.dense)
			for k := 0; k < 256; k++ {
				w.dense = append(w.dense, -1)
			}
			for _, c := range labs {
				w.dense[base+int(c)] = n.children[c]
			}
			continue
		}
		for _, c := range labs {
			w.edgeLab = append(w.edgeLab, c)
			w.edgeTo = append(w.edgeTo, n.children[c])
		}
	}
	w.first[len(nodes)] = uint32(len(w.edgeLab))
	w.root2 = make([]int32, 1<<16)
	for i := range w.root2 {
		n1 := w.child(0, byte(i>>8))
		if n1 >= 0 {
			n1 = w.child(n1, byte(i))
		}
		w.root2[i] = n1
	}
	return nil
}

// child returns the child of node n on byte c, or −1.
func (w *World) child(n int32, c byte) int32 {
	if d := w.denseIdx[n]; d >= 0 {
		return w.dense[int(d)<<8|int(c)]
	}
	lo, hi := w.first[n], w.first[n+1]
	labs := w.edgeLab[lo:hi]
	for k, l := range labs {
		if l >= c {
			if l == c {
				return w.edgeTo[int(lo)+k]
			}
			return -1
		}
	}
	return -1
}

// Name returns "world".
func (w *World) Name() string { return "world" }

// VocabSize returns one past the largest token id (65530 for the official file).
func (w *World) VocabSize() int { return len(w.offs) - 1 }

// TokenBytes returns the bytes of id, nil for 0 and ids out of range.
func (w *World) TokenBytes(id int) []byte {
	if id <= 0 || id >= len(w.offs)-1 {
		return nil
	}
	b := w.tokens[w.offs[id]:w.offs[id+1]]
	if len(b) == 0 {
		return nil
	}
	return b[:len(b):len(b)]
}

// Encode returns the greedy longest-match token ids of b.
func (w *World) Encode(b []byte) []int {
	return w.AppendEncode(make([]int, 0, len(b)/3+4), b)
}

// AppendEncode appends the token ids of b to dst.
func (w *World) AppendEncode(dst []int, b []byte) []int {
	p := 0
	n := len(b)
	for p < n {
		// single-byte token: id = byte + 1 in the official file, but look it up
		best := w.nodeID[w.child(0, b[p])]
		bestEnd := p + 1
		if p+1 < n {
			node := w.root2[int(b[p])<<8|int(b[p+1])]
			if node >= 0 {
				if id := w.nodeID[node]; id != 0 {
					best, bestEnd = id, p+2
				}
				for i := p + 2; i < n; i++ {
					node = w.child(node, b[i])
					if node < 0 {
						break
					}
					if id := w.nodeID[node]; id != 0 {
						best, bestEnd = id, i+1
					}
				}
			}
		}
		dst = append(dst, int(best))
		p = bestEnd
	}
	return dst
}

// Decode concatenates the bytes of ids; 0 and ids out of range are skipped.
func (w *World) Decode(ids []int) []byte {
	n := 0
	for _, id := range ids {
		if id > 0 && id < len(w.offs)-1 {
			n += int(w.offs[id+1] - w.offs[id])
		}
	}
	return w.AppendDecode(make([]byte, 0, n), ids)
}

// AppendDecode appends the bytes of ids to dst.
func (w *World) AppendDecode(dst []byte, ids []int) []byte {
	for _, id := range ids {
		if id > 0 && id < len(w.offs)-1 {
			dst = append(dst, w.tokens[w.offs[id]:w.offs[id+1]]...)
		}
	}
	return dst
}
