package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// A small pickle interpreter for the data.pkl of torch.save archives
// (spec §2.1). It executes nothing: GLOBAL only yields a marker for the few
// allow-listed callables below, and REDUCE builds plain Go values for them.

// Values produced by the interpreter:
//
//	nil (None), bool, int64, float64, string, []byte,
//	pyTuple, *pyList, *pyDict, pyGlobal, *pyStorage, *pyTensor.
type (
	pyTuple  []any
	pyList   struct{ items []any }
	pyGlobal struct{ module, name string }
	pyMark   struct{}
	// pyDict keeps insertion order; keys are strings, ints, bools or None.
	pyDict struct {
		keys  []any
		index map[any]int
		vals  []any
	}
	// pyStorage is a persistent-id reference to data/<key> in the archive.
	pyStorage struct {
		dtype string // "F32", "F16", "BF16"
		key   string
		numel int64
	}
	// pyTensor is a call to _rebuild_tensor(_v2), not yet resolved.
	pyTensor struct {
		storage *pyStorage
		offset  int64
		size    []int64
		stride  []int64
	}
)

func (g pyGlobal) String() string { return g.module + " " + g.name }

func newDict() *pyDict { return &pyDict{index: map[any]int{}} }

func (d *pyDict) set(k, v any) error {
	switch k.(type) {
	case nil, bool, int64, string:
	default:
		return fmt.Errorf("dictionary key of type %s", pyTypeName(k))
	}
	if i, ok := d.index[k]; ok {
		d.vals[i] = v
		return nil
	}
	d.index[k] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

func (d *pyDict) get(k string) (any, bool) {
	i, ok := d.index[k]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// allowedGlobals are the only callables a pickle may name.
var allowedGlobals = map[pyGlobal]bool{
	{"collections", "OrderedDict"}:         true,
	{"torch._utils", "_rebuild_tensor_v2"}: true,
	{"torch._utils", "_rebuild_tensor"}:    true,
	{"torch._utils", "_rebuild_parameter"}: true,
	{"torch", "FloatStorage"}:              true,
	{"torch", "HalfStorage"}:               true,
	{"torch", "BFloat16Storage"}:           true,
}

var storageDTypes = map[string]string{
	"FloatStorage":    "F32",
	"HalfStorage":     "F16",
	"BFloat16Storage": "BF16",
}

// Interpreter limits.
const (
	maxStack   = 1 << 18 // values on the stack (pickle batches items by 1000)
	maxMarks   = 100_000 // open MARKs
	maxMemo    = 1 << 18 // memo entries (a state dict uses 8 a tensor)
	maxTensDim = maxDims
	// maxPickleAlloc caps the memory the values of a pickle may take, as
	// an estimate in bytes that counts garbage too. A torch.save state
	// dict is charged about 2 KB a tensor, so this allows some 15,000
	// tensors (ten times the largest RWKV checkpoint), while deep or wide
	// structures (nested lists, millions of dicts or memo entries) are
	// refused before they take much memory.
	maxPickleAlloc = 32 << 20
)

func pyTypeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case pyGlobal:
		return fmt.Sprintf("global %q", v.String())
	case *pyStorage:
		return "storage"
	case *pyTensor:
		return "tensor"
	case pyMark:
		return "mark"
	}
	return fmt.Sprintf("%T", v)
}

type unpickler struct {
	data  []byte
	pos   int
	stack []any
	marks []int
	memo  map[uint32]any
	alloc int64 // estimated bytes allocated so far (see charge)
}

// unpickle runs the pickle program in data and returns the value STOP leaves.
func unpickle(data []byte) (any, error) {
	u := &unpickler{data: data, memo: map[uint32]any{}}
	v, err := u.run()
	if err != nil {
		return nil, fmt.Errorf("pickle: %w (at byte %d)", err, u.pos)
	}
	return v, nil
}

var errPickleEOF = errors.New("unexpected end of data")

func (u *unpickler) need(n int) ([]byte, error) {
	if n < 0 || len(u.data)-u.pos < n {
		return nil, errPickleEOF
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) byte1() (int, error) {
	b, err := u.need(1)
	if err != nil {
		return 0, err
	}
	return int(b[0]), nil
}

func (u *unpickler) u16() (int, error) {
	b, err := u.need(2)
	if err != nil {
		return 0, err
	}
	return int(binary.LittleEndian.Uint16(b)), nil
}

func (u *unpickler) u32() (uint32, error) {
	b, err := u.need(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (u *unpickler) u64() (uint64, error) {
	b, err := u.need(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// line reads up to and excluding '\n' (GLOBAL arguments).
func (u *unpickler) line() (string, error) {
	for i := u.pos; i < len(u.data) && i-u.pos < 256; i++ {
		if u.data[i] == '\n' {
			s := string(u.data[u.pos:i])
			u.pos = i + 1
			return s, nil
		}
	}
	return "", errors.New("unterminated or overlong GLOBAL name")
}

func (u *unpickler) push(v any) error {
	if len(u.stack) >= maxStack {
		return fmt.Errorf("stack grows beyond %d items", maxStack)
	}
	n := 16 + valueSize(v)
	if len(u.stack) == cap(u.stack) {
		n += 16 * cap(u.stack) // append copies the stack
	}
	if err := u.charge(n); err != nil {
		return err
	}
	u.stack = append(u.stack, v)
	return nil
}

// charge counts n bytes against maxPickleAlloc.
func (u *unpickler) charge(n int) error {
	u.alloc += int64(n)
	if u.alloc > maxPickleAlloc {
		return fmt.Errorf("the pickle builds more than %d MB of values (a state dict needs far less)", maxPickleAlloc>>20)
	}
	return nil
}

// valueSize estimates the bytes behind a value on top of its stack slot
// (strings are charged when they are read).
func valueSize(v any) int {
	switch v := v.(type) {
	case int64, float64:
		return 8
	case string:
		return 16
	case []byte:
		return 24
	case pyTuple:
		return 24 + 16*len(v)
	case *pyList:
		return 32
	case *pyDict:
		return 128
	case pyGlobal:
		return 32 + len(v.module) + len(v.name)
	case *pyStorage:
		return 64 + len(v.key)
	case *pyTensor:
		return 96 + 16*len(v.size)
	}
	return 0
}

func (u *unpickler) pop() (any, error) {
	n := len(u.stack)
	if n == 0 || (len(u.marks) > 0 && u.marks[len(u.marks)-1] >= n) {
		return nil, errors.New("stack underflow")
	}
	v := u.stack[n-1]
	u.stack = u.stack[:n-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	n := len(u.stack)
	if n == 0 || (len(u.marks) > 0 && u.marks[len(u.marks)-1] >= n) {
		return nil, errors.New("stack underflow")
	}
	return u.stack[n-1], nil
}

// popMark returns the items above the last MARK and removes them and it.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, errors.New("no MARK on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	if err := u.charge(16 * (len(u.stack) - m)); err != nil {
		return nil, err
	}
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) memoPut(idx uint32) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	if _, ok := u.memo[idx]; !ok {
		if len(u.memo) >= maxMemo {
			return fmt.Errorf("memo grows beyond %d entries", maxMemo)
		}
		if err := u.charge(48); err != nil {
			return err
		}
	}
	u.memo[idx] = v
	return nil
}

func (u *unpickler) memoGet(idx uint32) error {
	v, ok := u.memo[idx]
	if !ok {
		return fmt.Errorf("memo key %d not defined", idx)
	}
	return u.push(v)
}

func (u *unpickler) str(n int, unicode bool) error {
	b, err := u.need(n)
	if err != nil {
		return err
	}
	if unicode && !utf8.Valid(b) {
		return errors.New("invalid UTF-8 in a string")
	}
	if err := u.charge(n); err != nil {
		return err
	}
	return u.push(string(b))
}

func (u *unpickler) run() (any, error) {
	for {
		if u.pos >= len(u.data) {
			return nil, errors.New("missing STOP")
		}
		op := u.data[u.pos]
		u.pos++
		var err error
		switch op {
		case 0x80: // PROTO
			var p int
			if p, err = u.byte1(); err == nil && p > 5 {
				err = fmt.Errorf("unsupported pickle protocol %d", p)
			}
		case 0x95: // FRAME (protocol 4): the length is only a hint
			_, err = u.u64()
		case '.': // STOP
			v, err := u.pop()
			if err != nil {
				return nil, err
			}
			return v, nil
		case 'c': // GLOBAL
			var mod, name string
			if mod, err = u.line(); err == nil {
				if name, err = u.line(); err == nil {
					err = u.global(mod, name)
				}
			}
		case 0x93: // STACK_GLOBAL
			var nv, mv any
			if nv, err = u.pop(); err == nil {
				if mv, err = u.pop(); err == nil {
					mod, ok1 := mv.(string)
					name, ok2 := nv.(string)
					if !ok1 || !ok2 {
						err = errors.New("STACK_GLOBAL needs two strings")
					} else {
						err = u.global(mod, name)
					}
				}
			}
		case 'q': // BINPUT
			var i int
			if i, err = u.byte1(); err == nil {
				err = u.memoPut(uint32(i))
			}
		case 'r': // LONG_BINPUT
			var i uint32
			if i, err = u.u32(); err == nil {
				err = u.memoPut(i)
			}
		case 0x94: // MEMOIZE
			err = u.memoPut(uint32(len(u.memo)))
		case 'h': // BINGET
			var i int
			if i, err = u.byte1(); err == nil {
				err = u.memoGet(uint32(i))
			}
		case 'j': // LONG_BINGET
			var i uint32
			if i, err = u.u32(); err == nil {
				err = u.memoGet(i)
			}
		case '(': // MARK
			if len(u.marks) >= maxMarks {
				err = fmt.Errorf("more than %d nested MARKs", maxMarks)
			} else {
				u.marks = append(u.marks, len(u.stack))
			}
		case '}': // EMPTY_DICT
			err = u.push(newDict())
		case ']': // EMPTY_LIST
			err = u.push(&pyList{})
		case ')': // EMPTY_TUPLE
			err = u.push(pyTuple{})
		case 't': // TUPLE
			var items []any
			if items, err = u.popMark(); err == nil {
				err = u.push(pyTuple(items))
			}
		case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
			n := int(op-0x85) + 1
			t := make(pyTuple, n)
			for i := n - 1; i >= 0 && err == nil; i-- {
				t[i], err = u.pop()
			}
			if err == nil {
				err = u.push(t)
			}
		case 'l': // LIST
			var items []any
			if items, err = u.popMark(); err == nil {
				err = u.push(&pyList{items: items})
			}
		case 'd': // DICT
			var items []any
			if items, err = u.popMark(); err == nil {
				d := newDict()
				if err = u.charge(48 * len(items)); err == nil {
					err = setItems(d, items)
				}
				if err == nil {
					err = u.push(d)
				}
			}
		case 'X': // BINUNICODE
			var n uint32
			if n, err = u.u32(); err == nil {
				err = u.str(int(min(n, math.MaxInt32)), true)
			}
		case 0x8c: // SHORT_BINUNICODE
			var n int
			if n, err = u.byte1(); err == nil {
				err = u.str(n, true)
			}
		case 'U': // SHORT_BINSTRING
			var n int
			if n, err = u.byte1(); err == nil {
				err = u.str(n, false)
			}
		case 'T': // BINSTRING
			var n uint32
			if n, err = u.u32(); err == nil {
				err = u.str(int(min(n, math.MaxInt32)), false)
			}
		case 'C', 'B': // SHORT_BINBYTES, BINBYTES
			var n int
			if op == 'C' {
				n, err = u.byte1()
			} else {
				var n32 uint32
				n32, err = u.u32()
				n = int(min(n32, math.MaxInt32))
			}
			if err == nil {
				var b []byte
				if b, err = u.need(n); err == nil {
					err = u.push(b)
				}
			}
		case 'J': // BININT
			var v uint32
			if v, err = u.u32(); err == nil {
				err = u.push(int64(int32(v)))
			}
		case 'K': // BININT1
			var v int
			if v, err = u.byte1(); err == nil {
				err = u.push(int64(v))
			}
		case 'M': // BININT2
			var v int
			if v, err = u.u16(); err == nil {
				err = u.push(int64(v))
			}
		case 0x8a: // LONG1
			var n int
			if n, err = u.byte1(); err == nil {
				var b []byte
				if b, err = u.need(n); err == nil {
					var v int64
					if v, err = decodeLong(b); err == nil {
						err = u.push(v)
					}
				}
			}
		case 'G': // BINFLOAT (big-endian)
			var b []byte
			if b, err = u.need(8); err == nil {
				err = u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
			}
		case 0x88: // NEWTRUE
			err = u.push(true)
		case 0x89: // NEWFALSE
			err = u.push(false)
		case 'N': // NONE
			err = u.push(nil)
		case 'Q': // BINPERSID
			var pid any
			if pid, err = u.pop(); err == nil {
				var s *pyStorage
				if s, err = persistentLoad(pid); err == nil {
					err = u.push(s)
				}
			}
		case 'R': // REDUCE
			var args, fn any
			if args, err = u.pop(); err == nil {
				if fn, err = u.pop(); err == nil {
					var v any
					if v, err = reduce(fn, args); err == nil {
						err = u.push(v)
					}
				}
			}
		case 'b': // BUILD: the state is dropped (OrderedDict _metadata, tensor extras)
			var obj any
			if _, err = u.pop(); err == nil {
				if obj, err = u.top(); err == nil {
					switch obj.(type) {
					case *pyDict, *pyTensor:
					default:
						err = fmt.Errorf("BUILD on a %s", pyTypeName(obj))
					}
				}
			}
		case 's': // SETITEM
			var k, v, d any
			if v, err = u.pop(); err == nil {
				if k, err = u.pop(); err == nil {
					if d, err = u.top(); err == nil {
						if err = u.charge(96); err == nil {
							err = setItems(d, []any{k, v})
						}
					}
				}
			}
		case 'u': // SETITEMS
			var items []any
			if items, err = u.popMark(); err == nil {
				var d any
				if d, err = u.top(); err == nil {
					if err = u.charge(48 * len(items)); err == nil {
						err = setItems(d, items)
					}
				}
			}
		case 'a': // APPEND
			var v, l any
			if v, err = u.pop(); err == nil {
				if l, err = u.top(); err == nil {
					err = u.appendItems(l, []any{v})
				}
			}
		case 'e': // APPENDS
			var items []any
			if items, err = u.popMark(); err == nil {
				var l any
				if l, err = u.top(); err == nil {
					err = u.appendItems(l, items)
				}
			}
		case '0': // POP
			if len(u.marks) > 0 && u.marks[len(u.marks)-1] == len(u.stack) {
				u.marks = u.marks[:len(u.marks)-1] // POP of a MARK
			} else {
				_, err = u.pop()
			}
		case '1': // POP_MARK
			_, err = u.popMark()
		case '2': // DUP
			var v any
			if v, err = u.top(); err == nil {
				err = u.push(v)
			}
		default:
			err = fmt.Errorf("unsupported opcode %#02x", op)
		}
		if err != nil {
			return nil, err
		}
	}
}

func (u *unpickler) global(mod, name string) error {
	g := pyGlobal{mod, name}
	if !allowedGlobals[g] {
		return fmt.Errorf("pickle references forbidden global %q", oneLine(g.String()))
	}
	return u.push(g)
}

// decodeLong reads a little-endian two's-complement integer of up to 8 bytes.
func decodeLong(b []byte) (int64, error) {
	if len(b) > 8 {
		return 0, fmt.Errorf("integer of %d bytes is too large", len(b))
	}
	if len(b) == 0 {
		return 0, nil
	}
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	if sh := 64 - 8*uint(len(b)); sh > 0 {
		return int64(v<<sh) >> sh, nil // sign-extend
	}
	return int64(v), nil
}

func setItems(d any, items []any) error {
	dict, ok := d.(*pyDict)
	if !ok {
		return fmt.Errorf("SETITEM(S) on a %s", pyTypeName(d))
	}
	if len(items)%2 != 0 {
		return errors.New("SETITEMS with an odd number of items")
	}
	for i := 0; i < len(items); i += 2 {
		if err := dict.set(items[i], items[i+1]); err != nil {
			return err
		}
	}
	return nil
}

func (u *unpickler) appendItems(l any, items []any) error {
	list, ok := l.(*pyList)
	if !ok {
		return fmt.Errorf("APPEND(S) on a %s", pyTypeName(l))
	}
	n := 16 * len(items)
	if len(list.items)+len(items) > cap(list.items) {
		n += 16 * cap(list.items) // append copies the items
	}
	if err := u.charge(n); err != nil {
		return err
	}
	list.items = append(list.items, items...)
	return nil
}

// persistentLoad turns ('storage', <storage global>, key, location, numel)
// into a storage reference.
func persistentLoad(pid any) (*pyStorage, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) != 5 {
		return nil, fmt.Errorf("persistent id is a %s, want a 5-tuple ('storage', type, key, location, numel)", pyTypeName(pid))
	}
	if s, _ := t[0].(string); s != "storage" {
		return nil, errors.New("persistent id does not start with 'storage'")
	}
	g, ok := t[1].(pyGlobal)
	dt := storageDTypes[g.name]
	if !ok || g.module != "torch" || dt == "" {
		return nil, fmt.Errorf("persistent id names %s, want a torch Float/Half/BFloat16 storage", pyTypeName(t[1]))
	}
	key, ok := t[2].(string)
	if !ok || key == "" || len(key) > maxNameLen {
		return nil, errors.New("persistent id has no valid storage key")
	}
	numel, ok := t[4].(int64)
	if !ok || numel < 0 || numel > maxDim {
		return nil, fmt.Errorf("persistent id has an invalid element count (%s)", describe(t[4]))
	}
	return &pyStorage{dtype: dt, key: key, numel: numel}, nil
}

// reduce applies an allow-listed callable to its argument tuple.
func reduce(fn, args any) (any, error) {
	g, ok := fn.(pyGlobal)
	if !ok {
		return nil, fmt.Errorf("REDUCE calls a %s", pyTypeName(fn))
	}
	a, ok := args.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("REDUCE of %s with a %s for arguments", g, pyTypeName(args))
	}
	switch g {
	case pyGlobal{"collections", "OrderedDict"}:
		if len(a) != 0 {
			return nil, errors.New("OrderedDict called with arguments")
		}
		return newDict(), nil
	case pyGlobal{"torch._utils", "_rebuild_tensor_v2"}:
		// (storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
		if len(a) < 4 || len(a) > 7 {
			return nil, fmt.Errorf("_rebuild_tensor_v2 with %d arguments", len(a))
		}
		return rebuildTensor(a[:4])
	case pyGlobal{"torch._utils", "_rebuild_tensor"}:
		if len(a) != 4 {
			return nil, fmt.Errorf("_rebuild_tensor with %d arguments", len(a))
		}
		return rebuildTensor(a)
	case pyGlobal{"torch._utils", "_rebuild_parameter"}:
		// (tensor, requires_grad, backward_hooks)
		if len(a) != 3 {
			return nil, fmt.Errorf("_rebuild_parameter with %d arguments", len(a))
		}
		t, ok := a[0].(*pyTensor)
		if !ok {
			return nil, fmt.Errorf("_rebuild_parameter of a %s", pyTypeName(a[0]))
		}
		return t, nil
	}
	return nil, fmt.Errorf("%s cannot be called", g)
}

func rebuildTensor(a pyTuple) (*pyTensor, error) {
	st, ok := a[0].(*pyStorage)
	if !ok {
		return nil, fmt.Errorf("tensor storage is a %s", pyTypeName(a[0]))
	}
	off, ok := a[1].(int64)
	if !ok || off < 0 || off > maxDim {
		return nil, fmt.Errorf("invalid storage offset (%s)", describe(a[1]))
	}
	size, err := intTuple(a[2], "size")
	if err != nil {
		return nil, err
	}
	stride, err := intTuple(a[3], "stride")
	if err != nil {
		return nil, err
	}
	if len(size) != len(stride) {
		return nil, fmt.Errorf("size has %d dimensions, stride %d", len(size), len(stride))
	}
	return &pyTensor{storage: st, offset: off, size: size, stride: stride}, nil
}

func intTuple(v any, what string) ([]int64, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("tensor %s is a %s, want a tuple", what, pyTypeName(v))
	}
	if len(t) > maxTensDim {
		return nil, fmt.Errorf("tensor %s has %d dimensions (at most %d)", what, len(t), maxTensDim)
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok || n < 0 || n > maxDim {
			return nil, fmt.Errorf("tensor %s has an invalid entry (%s)", what, describe(x))
		}
		out[i] = n
	}
	return out, nil
}

// describe names a value for an error without walking into containers.
func describe(v any) string {
	if n, ok := v.(int64); ok {
		return fmt.Sprint(n)
	}
	return pyTypeName(v)
}
