//go:build linux

package format

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Resource limits on untrusted files (issue 8, item 2). Each hostile file
// below claims something huge — a 1 TB tensor, 2^31 tensors, a shape that
// overflows int64, a 4 GB string, a 2^62-byte header, a pickle that builds
// deep or wide structures, a zip entry that inflates a thousandfold — and
// Open must refuse it (or, for a claim the file really backs with a sparse
// hole, accept it without reading it) before any large allocation.
//
// Each case runs in a child process (this test binary re-executed with
// limitsChildEnv naming the file), which opens the file and prints its peak
// resident set (VmHWM from /proc/self/status). The child's data segment is
// capped (RLIMIT_DATA) so that a reader that does allocate fails fast
// instead of exhausting the machine.

const (
	limitsChildEnv = "RWKV_FORMAT_LIMITS_FILE"
	limitsPeakMax  = 64 << 20 // peak RSS allowed for any hostile case
	limitsDataCap  = 1 << 30  // RLIMIT_DATA of the child
	limitsResult   = "limits-result:"
)

// limitsUnderRace is set in race-detector builds (limits_race_test.go),
// whose shadow memory makes RSS figures meaningless.
var limitsUnderRace bool

type hostileCase struct {
	name string
	// build writes the file at path; it may skip the case (e.g. when the
	// file system has no sparse files).
	build func(t *testing.T, path string)
	// want is a substring of the error Open must return; "" accepts any
	// outcome (a sparse file that really holds the data it claims).
	want string
}

// TestHostileFilesPeakRSS opens every hostile file in a child process and
// requires a refusal (with the expected reason) and a small peak RSS.
func TestHostileFilesPeakRSS(t *testing.T) {
	if os.Getenv(limitsChildEnv) != "" {
		t.Skip("parent test: not run in the child")
	}
	if limitsUnderRace {
		t.Skip("the race detector's shadow memory makes peak RSS meaningless; the plain test run measures it")
	}
	if _, err := readVmHWM(); err != nil {
		t.Skipf("needs /proc/self/status: %v", err)
	}
	dir := t.TempDir()
	var table []string
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name)
			c.build(t, path)
			defer os.Remove(path)
			st, _ := os.Stat(path)
			res := runLimitsChild(t, path)
			line := fmt.Sprintf("%-28s file %9s  peak RSS %5.1f MiB (child baseline %4.1f)  %s",
				c.name, sizeText(st.Size()), float64(res.peak)/(1<<20), float64(res.base)/(1<<20), res.err)
			table = append(table, line)
			if res.peak > limitsPeakMax {
				t.Errorf("peak RSS %.1f MiB > %d MiB", float64(res.peak)/(1<<20), limitsPeakMax>>20)
			}
			switch {
			case c.want == "":
			case res.err == "":
				t.Errorf("Open accepted the file, want an error containing %q", c.want)
			case !strings.Contains(res.err, c.want):
				t.Errorf("error %q does not contain %q", res.err, c.want)
			}
			if res.err != "" && !strings.HasPrefix(res.err, path+": ") {
				t.Errorf("error does not start with the path: %q", res.err)
			}
			if strings.Contains(res.err, " -") {
				t.Errorf("error shows a negative (overflowed) number: %q", res.err)
			}
		})
	}
	t.Logf("hostile files (peak RSS of the child process, limit %d MiB):\n%s", limitsPeakMax>>20, strings.Join(table, "\n"))
}

// TestHostileFileChild is the child side: it opens the file named by
// limitsChildEnv and prints the outcome and its peak RSS.
func TestHostileFileChild(t *testing.T) {
	path := os.Getenv(limitsChildEnv)
	if path == "" {
		t.Skip("runs only as the child process of TestHostileFilesPeakRSS")
	}
	lim := syscall.Rlimit{Cur: limitsDataCap, Max: limitsDataCap}
	if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &lim); err != nil {
		t.Logf("RLIMIT_DATA not set: %v", err)
	}
	base, err := readVmHWM()
	if err != nil {
		t.Fatal(err)
	}
	f, oerr := Open(path)
	peak, err := readVmHWM()
	if err != nil {
		t.Fatal(err)
	}
	msg := ""
	if oerr != nil {
		msg = oerr.Error()
	} else {
		msg = ""
		f.Close()
	}
	fmt.Printf("%s %d %d %s\n", limitsResult, base, peak, strconv.Quote(msg))
}

type limitsOutcome struct {
	base, peak int64
	err        string
}

func runLimitsChild(t *testing.T, path string) limitsOutcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHostileFileChild$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(), limitsChildEnv+"="+path, "GOTRACEBACK=single")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	runErr := cmd.Run()
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), limitsResult+" ")
		if !ok {
			continue
		}
		var o limitsOutcome
		f := strings.SplitN(rest, " ", 3)
		if len(f) == 3 {
			o.base, _ = strconv.ParseInt(f[0], 10, 64)
			o.peak, _ = strconv.ParseInt(f[1], 10, 64)
			if s, err := strconv.Unquote(f[2]); err == nil {
				o.err = s
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("the child took %v", d.Round(time.Millisecond))
				}
				return o
			}
		}
	}
	t.Fatalf("child failed (%v) after %v:\nstdout: %s\nstderr: %s", runErr, time.Since(start).Round(time.Millisecond),
		tailText(out.String(), 2000), headText(errb.String(), 1500))
	return limitsOutcome{}
}

// readVmHWM returns the peak resident set of this process in bytes.
func readVmHWM() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

func tailText(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func headText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<40:
		return fmt.Sprintf("%.1fT", float64(n)/(1<<40))
	case n >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

// ---- file builders ----

func writeBytes(b []byte) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		t.Helper()
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sparse writes b and extends the file with a hole of extra bytes, so that
// a header's claim is backed by (unread) zeros.
func sparse(b []byte, extra int64) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		t.Helper()
		writeBytes(b)(t, path)
		if err := os.Truncate(path, int64(len(b))+extra); err != nil {
			t.Skipf("no sparse file of %s here: %v", sizeText(int64(len(b))+extra), err)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(path, &st); err == nil && st.Blocks*512 > 64<<20 {
			t.Skipf("the file system does not make sparse files (%d blocks)", st.Blocks)
		}
	}
}

func gguf(nTensors, nKV uint64, rest ...[]byte) []byte {
	b := append([]byte("GGUF"), le(uint32(3), nTensors, nKV)...)
	for _, r := range rest {
		b = append(b, r...)
	}
	return b
}

// ggufKV is a metadata pair: key, type, raw value.
func ggufKV(key string, typ uint32, val []byte) []byte {
	return append(append(gstr(key), le(typ)...), val...)
}

// ggufInfo is a tensor info: name, dims (ggml order), type, offset.
func ggufInfo(name string, typ uint32, off uint64, ne ...uint64) []byte {
	b := append(gstr(name), le(uint32(len(ne)))...)
	b = append(b, le(ne)...)
	return append(b, le(typ, off)...)
}

var ggufArchV7 = [][]byte{
	ggufKV("general.architecture", 8, gstr("rwkv7")),
	ggufKV("rwkv7.wkv.head_size", 4, le(uint32(64))),
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// long emits a pickle LONG1 of 8 bytes (any int64).
func (p *pk) long(n int64) *pk {
	p.op(0x8a, 8)
	_ = binary.Write(&p.Buffer, binary.LittleEndian, n)
	return p
}

func (p *pk) longs(ns ...int64) *pk {
	p.op('(')
	for _, n := range ns {
		p.long(n)
	}
	return p.op('t')
}

// bigTensorPickle is {name: _rebuild_tensor_v2(storage(key, numel), 0, size, stride)} with 64-bit ints.
func bigTensorPickle(numel int64, size, stride []int64) []byte {
	p := (&pk{}).proto()
	p.op('}').str("emb.weight")
	p.global("torch._utils", "_rebuild_tensor_v2").mark()
	p.mark().str("storage").global("torch", "FloatStorage").str("0").str("cpu").long(numel).tuple().op('Q')
	p.long(0).longs(size...).longs(stride...).op(0x89).orderedDict()
	p.tuple().reduce().op('s').stop()
	return p.Bytes()
}

// pthOf stores pkl (and a 16-byte storage "0") in a torch.save archive.
func pthOf(pkl []byte) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		t.Helper()
		writeBytes(zipPth(t, "archive", pkl, map[string][]byte{"0": make([]byte, 16)}))(t, path)
	}
}

func repeat(unit []byte, n int) []byte { return bytes.Repeat(unit, n) }

// deflatedZeros returns a raw deflate stream of n zero bytes (n a multiple
// of 1 MiB) without compressing n bytes: once the window is all zeros, the
// block that a flush emits for 1 MiB of zeros is always the same.
func deflatedZeros(t *testing.T, n int64) []byte {
	t.Helper()
	const chunk = 1 << 20
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, chunk)
	var blocks [][]byte
	for range 3 {
		start := buf.Len()
		fw.Write(zeros)
		fw.Flush()
		blocks = append(blocks, append([]byte(nil), buf.Bytes()[start:]...))
	}
	start := buf.Len()
	fw.Close()
	end := append([]byte(nil), buf.Bytes()[start:]...)
	if !bytes.Equal(blocks[1], blocks[2]) {
		t.Fatal("deflate blocks of zeros differ: cannot build the stream cheaply")
	}
	out := append([]byte(nil), blocks[0]...)
	out = append(out, bytes.Repeat(blocks[1], int(n/chunk)-1)...)
	return append(out, end...)
}

func crcZeros(n int64) uint32 {
	zeros := make([]byte, 1<<20)
	var c uint32
	for ; n > 0; n -= int64(len(zeros)) {
		c = crc32.Update(c, crc32.IEEETable, zeros[:min(n, int64(len(zeros)))])
	}
	return c
}

// pthDeflated builds a torch.save archive whose entries are deflated: the
// pickle pkl and, when bombSize > 0, a storage "0" of bombSize zero bytes
// (a zip bomb: about 1/1000 of that on disk). When pkl is nil, data.pkl is
// itself a bomb of pklBomb zero bytes.
func pthDeflated(pkl []byte, pklBomb, bombSize int64) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		t.Helper()
		var buf bytes.Buffer
		w := zip.NewWriter(&buf)
		raw := func(name string, n int64) {
			z := deflatedZeros(t, n)
			fw, err := w.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Deflate, CRC32: crcZeros(n),
				CompressedSize64: uint64(len(z)), UncompressedSize64: uint64(n)})
			if err != nil {
				t.Fatal(err)
			}
			fw.Write(z)
		}
		if pkl != nil {
			fw, err := w.CreateHeader(&zip.FileHeader{Name: "archive/data.pkl", Method: zip.Deflate})
			if err != nil {
				t.Fatal(err)
			}
			fw.Write(pkl)
		} else {
			raw("archive/data.pkl", pklBomb)
		}
		if bombSize > 0 {
			raw("archive/data/0", bombSize)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		writeBytes(buf.Bytes())(t, path)
	}
}

func hostileCases() []hostileCase {
	const TB = 1 << 40
	tb := ggmlTensor{"emb.weight", 0, []uint32{1 << 18, 1 << 20}, nil} // F32 2^38 elements: 1 TiB
	var cases []hostileCase
	add := func(name string, build func(*testing.T, string), want string) {
		cases = append(cases, hostileCase{name, build, want})
	}

	// rwkv.cpp .bin: no tensor count in the header; every tensor's size is
	// checked against the file before it is sliced.
	add("bin-1TB-tensor", writeBytes(ggmlFile(101, 0, tb)), "truncated")
	add("bin-1TB-tensor-sparse", sparse(ggmlFile(101, 0, tb), TB), "")
	add("bin-shape-overflows-int64", writeBytes(ggmlFile(101, 0,
		ggmlTensor{"a", 0, []uint32{1<<32 - 1, 1<<32 - 1, 1<<32 - 1, 1<<32 - 1}, nil})), "overflows")
	add("bin-bytes-overflow-int64", writeBytes(ggmlFile(101, 0,
		ggmlTensor{"a", 0, []uint32{1 << 31, 1 << 31, 4}, nil})), "overflow")

	// safetensors: a u64 header length, then JSON.
	add("st-header-len-2^62", writeBytes(append(le(uint64(1)<<62), `{"a":{}}`...)), "unknown file format")
	add("st-header-len-4GB", writeBytes(append(le(uint64(1<<32-1)), `{"a":{}}`...)), "larger than")
	add("st-1TB-tensor", writeBytes(safetensorsFile(
		`{"emb.weight":{"dtype":"F32","shape":[262144,1048576],"data_offsets":[0,1099511627776]}}`, nil)), "truncated")
	add("st-shape-overflows-int64", writeBytes(safetensorsFile(
		`{"a":{"dtype":"F32","shape":[1099511627776,1099511627776,1099511627776],"data_offsets":[0,4]}}`, nil)), "overflows")
	add("st-dim-beyond-int64", writeBytes(safetensorsFile(
		`{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}`, nil)), "safetensors header")
	add("st-offset-2^63", writeBytes(safetensorsFile(
		`{"a":{"dtype":"F32","shape":[1],"data_offsets":[9223372036854775800,9223372036854775804]}}`, nil)), "truncated")
	add("st-1M-dims", writeBytes(safetensorsFile(
		`{"a":{"dtype":"F32","shape":[`+strings.Repeat("1,", 1_000_000)+`1],"data_offsets":[0,4]}}`, nil)), "more than 64 numbers")
	add("st-1M-data-offsets", writeBytes(safetensorsFile(
		`{"a":{"dtype":"F32","shape":[1],"data_offsets":[`+strings.Repeat("0,", 1_000_000)+`4]}}`, nil)), "more than 64 numbers")

	// GGUF: counts and lengths in the header.
	add("gguf-2^31-tensors", writeBytes(gguf(1<<31, 0, make([]byte, 64))), "tensors")
	add("gguf-2^63-tensors", writeBytes(gguf(1<<63, 0, make([]byte, 64))), "tensors")
	add("gguf-2^31-kv", writeBytes(gguf(1, 1<<31, make([]byte, 64))), "metadata pairs")
	str4G := ggufKV("general.architecture", 8, le(uint64(1<<32)))
	add("gguf-string-4GB", writeBytes(gguf(1, 1, str4G, []byte("rwkv7"))), "general.architecture")
	add("gguf-string-4GB-sparse", sparse(gguf(1, 1, str4G, []byte("rwkv7")), 1<<32), "general.architecture")
	add("gguf-key-2^63", writeBytes(gguf(0, 1, le(uint64(1)<<63), make([]byte, 64))), "metadata key #0")
	add("gguf-array-2^40", writeBytes(gguf(1, 1, ggufKV("tokenizer.ggml.tokens", 9, le(uint32(8), uint64(TB))))), "cannot fit")
	add("gguf-nested-arrays-2^40", writeBytes(gguf(1, 1, ggufKV("x", 9, le(uint32(9), uint64(1), uint32(9), uint64(1), uint32(8), uint64(TB))))), "cannot fit")
	add("gguf-1TB-tensor", writeBytes(gguf(1, 2, cat(ggufArchV7...), ggufInfo("token_embd.weight", 0, 0, 1<<20, 1<<18), make([]byte, 64))), "past the end")
	add("gguf-1TB-tensor-sparse", sparse(gguf(1, 2, cat(ggufArchV7...), ggufInfo("token_embd.weight", 0, 0, 1<<20, 1<<18), make([]byte, 64)), TB), "")
	add("gguf-shape-overflows-int64", writeBytes(gguf(1, 2, cat(ggufArchV7...), ggufInfo("token_embd.weight", 0, 0, TB, TB, TB, TB), make([]byte, 64))), "overflows")
	add("gguf-u8-array-4M", writeBytes(gguf(1, 1, ggufKV("x", 9, append(le(uint32(0), uint64(4<<20)), make([]byte, 4<<20)...)))), "general.architecture")

	// .pth: a zip archive with a pickle (run by a small interpreter).
	add("pth-1TB-storage", pthOf(bigTensorPickle(1<<38, []int64{1 << 18, 1 << 20}, []int64{1 << 20, 1})), "declares")
	add("pth-numel-2^62", pthOf(bigTensorPickle(1<<62, []int64{1}, []int64{1})), "element count")
	add("pth-shape-overflows-int64", pthOf(bigTensorPickle(4, []int64{TB, TB, TB}, []int64{0, 0, 0})), "overflows")
	add("pkl-nested-tuples-1e6", pthOf(cat([]byte{0x80, 2, 'N'}, repeat([]byte{0x85}, 1_000_000), []byte{'.'})), "builds more than")
	add("pkl-nested-lists-1e6", pthOf(cat([]byte{0x80, 2}, repeat([]byte{']'}, 999_999), repeat([]byte{'a'}, 999_998), []byte{'.'})), "pickle: ")
	add("pkl-nested-dicts-5e5", pthOf(cat([]byte{0x80, 2}, repeat([]byte{'}', 'K', 0}, 499_999), []byte{'}'}, repeat([]byte{'s'}, 499_999), []byte{'.'})), "pickle: ")
	add("pkl-memo-index-2^32-1", pthOf(cat([]byte{0x80, 2, 'N', 'r', 0xff, 0xff, 0xff, 0xff, '0', 'j', 0xff, 0xff, 0xff, 0xff, 'j', 0xfe, 0xff, 0xff, 0xff, '.'})), "memo key")
	memo := (&pk{}).proto().op('N')
	for i := range 1_000_001 {
		memo.op('r').Write(le(uint32(i * 4099)))
	}
	add("pkl-memo-1e6-entries", pthOf(memo.stop().Bytes()), "memo")
	add("pkl-marks-1e5", pthOf(cat([]byte{0x80, 2}, repeat([]byte{'('}, 200_000), []byte{'.'})), "MARK")
	add("pkl-stack-1e6", pthOf(cat([]byte{0x80, 2}, repeat([]byte{'N'}, 1_000_001), []byte{'.'})), "stack grows")
	add("pkl-wide-list-8e6", pthDeflated(cat([]byte{0x80, 2, ']'}, repeat([]byte{'N', 'a'}, 8_000_000), []byte{'.'}), 0, 0), "builds more than")
	add("pkl-many-dicts-4e6", pthDeflated(cat([]byte{0x80, 2, ']'}, repeat([]byte{'}', 'a'}, 4_000_000), []byte{'.'}), 0, 0), "builds more than")
	add("pkl-deflate-bomb-255MB", pthDeflated(nil, 255<<20, 0), "zip bomb")
	bomb := bigTensorPickle(3<<28, []int64{3 << 28}, []int64{1})
	add("pth-storage-bomb-3GB", pthDeflated(bomb, 0, 3<<30), "zip bomb")
	return cases
}
