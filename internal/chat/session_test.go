package chat

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/model"
	"github.com/rwkv-chat/rwkv-chat/internal/prompt"
	"github.com/rwkv-chat/rwkv-chat/internal/testutil"
	"github.com/rwkv-chat/rwkv-chat/internal/tokenizer"
)

// newTestSession opens a tiny byte-level model with a template and greedy
// settings.
func newTestSession(t testing.TB, modelName, tmplName string, maxTokens int) *Session {
	t.Helper()
	path := testutil.Path(t, "models", "tiny", modelName)
	m, err := model.Open(path, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	tok, err := tokenizer.Select(m.Cfg.Vocab, "bytes", path)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := prompt.Lookup(tmplName)
	if err != nil {
		t.Fatal(err)
	}
	set := FromTemplate(tmpl)
	set.Temperature, set.Presence, set.Frequency, set.MaxTokens = 0, 0, 0, maxTokens
	s, err := New(Config{Model: m, Tokenizer: tok, Template: tmpl, Settings: set})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const tiny7 = "tiny-rwkv-7v0-834K-FP32.bin"

// TestFedPerTurn: a turn feeds exactly its own message and its reply (plus
// the turn end when the reply did not produce it), whatever the length of
// the conversation before it (issue 5 point 6).
func TestFedPerTurn(t *testing.T) {
	s := newTestSession(t, tiny7, "world", 40)
	total := s.Fed
	if want := len(s.encode(s.OpeningText())); total != want {
		t.Fatalf("opening fed %d tokens, want %d", total, want)
	}
	tmpl := s.Template()
	var first int
	for turn := 1; turn <= 30; turn++ {
		msg := prompt.Message{Text: "Tell me about turn " + strings.Repeat("x", turn%5)}
		before := s.Fed
		text, err := s.Reply(context.Background(), msg, nil)
		if err != nil {
			t.Fatal(err)
		}
		st := s.LastStats()
		fed := s.Fed - before
		promptToks := len(s.tok.Encode([]byte(tmpl.Turn(msg))))
		if st.PromptTokens != promptToks {
			t.Fatalf("turn %d: prompt tokens %d, want %d", turn, st.PromptTokens, promptToks)
		}
		want := promptToks + st.GeneratedTokens
		switch st.StopReason {
		case "eos", "length", "stop":
			want += len(s.tok.Encode([]byte(tmpl.EndOfReply))) // the canonical turn end, fed after
		case "end":
		default:
			t.Fatalf("turn %d: stop reason %q", turn, st.StopReason)
		}
		if fed != want {
			t.Fatalf("turn %d: fed %d tokens, want message %d + reply %d (stop %s)", turn, fed, promptToks, st.GeneratedTokens, st.StopReason)
		}
		// Byte tokenizer: the reply's tokens are its bytes and at most the
		// turn end and trimmed whitespace more.
		if st.GeneratedTokens < len(text) {
			t.Fatalf("turn %d: %d tokens for a %d-byte reply", turn, st.GeneratedTokens, len(text))
		}
		if fed > promptToks+40+len(tmpl.EndOfReply) {
			t.Fatalf("turn %d: fed %d tokens, more than message + max reply", turn, fed)
		}
		if turn == 1 {
			first = fed
		}
		total += fed
	}
	if s.Fed != total {
		t.Fatalf("Fed %d, sum of turns %d", s.Fed, total)
	}
	t.Logf("turn 1 fed %d tokens; 30 turns fed %d in all", first, total)
}

func stateBytes(t *testing.T, st *model.State) []byte {
	t.Helper()
	b, err := st.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cancelAfter returns an out func that cancels the reply once n pieces of
// text were streamed.
func cancelAfter(n int, cancel context.CancelFunc) func(string) {
	return func(string) {
		n--
		if n == 0 {
			cancel()
		}
	}
}

// TestCancelKeepsConversation: a cancelled reply or regeneration leaves the
// state as it was before it, and /regen still redoes the last finished
// turn.
func TestCancelKeepsConversation(t *testing.T) {
	s := newTestSession(t, tiny7, "raw", 30)
	beforeTurn1 := stateBytes(t, s.State())
	reply1, err := s.Reply(context.Background(), prompt.Message{Text: "Once upon a time"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	after1 := stateBytes(t, s.State())
	if bytes.Equal(after1, beforeTurn1) {
		t.Fatal("the turn did not change the state")
	}

	ctx, cancel := context.WithCancel(context.Background())
	if _, err := s.Reply(ctx, prompt.Message{Text: " and then"}, cancelAfter(5, cancel)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled reply: %v", err)
	}
	if !bytes.Equal(stateBytes(t, s.State()), after1) {
		t.Fatal("a cancelled reply changed the state")
	}
	if len(s.Transcript) != 1 {
		t.Fatalf("transcript has %d turns after a cancelled reply", len(s.Transcript))
	}

	// /regen after the cancelled reply redoes turn 1 (greedy: the same).
	again, err := s.Regenerate(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if again != reply1 || !bytes.Equal(stateBytes(t, s.State()), after1) {
		t.Fatalf("regenerate after a cancelled reply: %q, want %q (state equal: %v)", again, reply1,
			bytes.Equal(stateBytes(t, s.State()), after1))
	}

	// A cancelled /regen leaves the last reply in place.
	ctx, cancel = context.WithCancel(context.Background())
	if _, err := s.Regenerate(ctx, cancelAfter(3, cancel)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled regenerate: %v", err)
	}
	if !bytes.Equal(stateBytes(t, s.State()), after1) || len(s.Transcript) != 1 || s.Transcript[0].Reply != reply1 {
		t.Fatal("a cancelled regenerate changed the conversation")
	}
	if again, err := s.Regenerate(context.Background(), nil); err != nil || again != reply1 {
		t.Fatalf("regenerate after a cancelled regenerate: %q, %v", again, err)
	}
}

// TestSessionFileRefused: a session file cut at any byte, damaged, or saved
// with another model is refused with a clear message, the session that
// refused it is unchanged and the good file is untouched (issue 5 point 5).
func TestSessionFileRefused(t *testing.T) {
	s := newTestSession(t, tiny7, "world", 20)
	for _, q := range []string{"Hello", "How are you?"} {
		if _, err := s.Reply(context.Background(), prompt.Message{Text: q}, nil); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.rwkvsession")
	if err := s.Save(good); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}

	// Another session with its own conversation, which must survive every
	// refused load.
	o := newTestSession(t, tiny7, "world", 20)
	if _, err := o.Reply(context.Background(), prompt.Message{Text: "Something else"}, nil); err != nil {
		t.Fatal(err)
	}
	want, err := o.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	live := slices.Clone(o.State().Data)
	phrases := []string{"truncated", "damaged", "not an rwkv-chat session file"}
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: accepted", what)
		}
		ok := false
		for _, c := range phrases {
			ok = ok || strings.Contains(err.Error(), c)
		}
		if !ok {
			t.Fatalf("%s: unclear message %q", what, err)
		}
	}
	cuts := 0
	step := 17
	if testing.Short() {
		step = 997 // -short (and -race in CI): a sample of the cuts
	}
	for cut := 0; cut < len(data); cut += step {
		check("cut", o.UnmarshalBinary(data[:cut]))
		if cuts%64 == 0 && (!slices.Equal(o.State().Data, live) || len(o.Transcript) != 1) {
			t.Fatalf("cut at %d: the refusing session changed", cut)
		}
		cuts++
	}
	for cut := len(data) - 64; cut < len(data); cut++ { // every byte of the tail
		check("cut", o.UnmarshalBinary(data[:cut]))
	}
	for _, at := range []int{0, 9, 20, len(data) / 2, len(data) - 1} { // flipped bits
		bad := slices.Clone(data)
		bad[at] ^= 0x10
		check("flipped bit", o.UnmarshalBinary(bad))
	}
	// Through files, as /load and --session do: the message names the file.
	cutPath := filepath.Join(dir, "cut.rwkvsession")
	if err := os.WriteFile(cutPath, data[:len(data)/3], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := o.Load(cutPath); err == nil || !strings.Contains(err.Error(), cutPath) {
		t.Fatalf("load of a cut file: %v", err)
	}
	if got, _ := o.MarshalBinary(); !bytes.Equal(got, want) {
		t.Fatal("the refusing session changed")
	}
	if now, _ := os.ReadFile(good); !bytes.Equal(now, data) {
		t.Fatal("the good file changed")
	}
	t.Logf("%d cuts of a %d-byte session refused", cuts, len(data))

	// Another model (RWKV-6 instead of RWKV-7, same vocabulary).
	other := newTestSession(t, "tiny-rwkv-6v0-1m-FP32.bin", "world", 20)
	otherBefore, _ := other.MarshalBinary()
	err = other.Load(good)
	if err == nil || !strings.Contains(err.Error(), "another model") || !strings.Contains(err.Error(), "RWKV-7") {
		t.Fatalf("load into another model: %v", err)
	}
	if got, _ := other.MarshalBinary(); !bytes.Equal(got, otherBefore) {
		t.Fatal("the other model's session changed")
	}

	// The good file still loads, bit for bit.
	if err := o.Load(good); err != nil {
		t.Fatal(err)
	}
	if got, _ := o.MarshalBinary(); !bytes.Equal(got, data) {
		t.Fatal("a loaded session does not save to the same bytes")
	}
}

// TestSaveReplacesAtomically: saving over a session leaves either the old or
// the new file, never a mix, and no temporary file.
func TestSaveReplacesAtomically(t *testing.T) {
	s := newTestSession(t, tiny7, "world", 10)
	dir := t.TempDir()
	path := filepath.Join(dir, "s.rwkvsession")
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reply(context.Background(), prompt.Message{Text: "Hi"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
	// A save that cannot complete (the directory is gone) reports it.
	if err := s.Save(filepath.Join(dir, "missing", "x.rwkvsession")); err == nil {
		t.Fatal("save into a missing directory succeeded")
	}
}
