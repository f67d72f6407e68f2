package tokenizer

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// testdata returns the shared reference directory (env RWKV_TESTDATA, default
// ../../../shared from this package), skipping the test when a file is absent.
func testdata(t testing.TB, rel string) string {
	t.Helper()
	p := sharedPath(rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test data %s not found (set RWKV_TESTDATA to the shared directory): %v", p, err)
	}
	return p
}

// sharedPath is rel inside the shared reference directory.
func sharedPath(rel string) string {
	dir := os.Getenv("RWKV_TESTDATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared")
	}
	return filepath.Join(dir, rel)
}

var (
	worldOnce sync.Once
	worldTok  *World
	worldErr  error
	neoxOnce  sync.Once
	neoxTok   *NeoX
	neoxErr   error
)

func loadWorld(t testing.TB) *World {
	t.Helper()
	p := testdata(t, "tokenizers/"+WorldFile)
	worldOnce.Do(func() { worldTok, worldErr = LoadWorld(p) })
	if worldErr != nil {
		t.Fatal(worldErr)
	}
	return worldTok
}

func loadNeoX(t testing.TB) *NeoX {
	t.Helper()
	p := testdata(t, "tokenizers/"+NeoXFile)
	neoxOnce.Do(func() { neoxTok, neoxErr = LoadNeoX(p) })
	if neoxErr != nil {
		t.Fatal(neoxErr)
	}
	return neoxTok
}

type fixture struct {
	Name     string `json:"name"`
	Text     string `json:"text"`
	BytesHex string `json:"bytes_hex"`
	IDs      []int  `json:"ids"`
	isBytes  bool
	input    []byte
}

func readFixtures(t testing.TB, name string) []fixture {
	t.Helper()
	f, err := os.Open(testdata(t, "fixtures/tokenizer/"+name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []fixture
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var fx fixture
		if err := json.Unmarshal(sc.Bytes(), &fx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		fx.input = []byte(fx.Text)
		if fx.BytesHex != "" {
			fx.isBytes = true
			if fx.input, err = hex.DecodeString(fx.BytesHex); err != nil {
				t.Fatalf("%s %s: %v", name, fx.Name, err)
			}
		}
		out = append(out, fx)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no fixtures", name)
	}
	return out
}

// lambadaText returns the texts of the LAMBADA test file.
func lambadaText(t testing.TB) [][]byte {
	t.Helper()
	f, err := os.Open(testdata(t, "data/lambada_test.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var v struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, []byte(v.Text))
	}
	return out
}

func equalIDs(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
