// Package chat is a conversation with an RWKV model: model + tokenizer +
// template + sampler + recurrent state. After each turn the state is kept,
// so a turn only feeds its own text; snapshots taken after the system
// prompt and before each reply make /reset and /regen instant.
package chat

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/rwkv-chat/rwkv-chat/internal/model"
	"github.com/rwkv-chat/rwkv-chat/internal/prompt"
	"github.com/rwkv-chat/rwkv-chat/internal/sampler"
	"github.com/rwkv-chat/rwkv-chat/internal/tokenizer"
)

// Settings are the generation settings a user can change.
type Settings struct {
	Temperature, TopP   float64
	TopK                int
	Presence, Frequency float64
	Decay               float64
	MaxTokens           int
	Seed                uint64
	// Stops are extra stop strings (--stop); generation ends before them.
	Stops []string
}

// FromTemplate returns a template's default settings.
func FromTemplate(t prompt.Template) Settings {
	d := t.Defaults
	return Settings{Temperature: d.Temperature, TopP: d.TopP, TopK: d.TopK, Presence: d.Presence,
		Frequency: d.Frequency, Decay: d.Decay, MaxTokens: d.MaxTokens}
}

// Config builds a Session.
type Config struct {
	Model     *model.Model
	Tokenizer tokenizer.Tokenizer
	Template  prompt.Template
	Settings  Settings
	System    string
	// NoPrime skips the template's priming exchange (e.g. with a trained
	// initial state).
	NoPrime bool
	// Initial, when set, is the state the conversation starts from (state
	// tuning, spec §12) instead of the zero state.
	Initial *model.State
}

// Stats describe the last reply.
type Stats struct {
	PromptTokens    int
	GeneratedTokens int
	Prefill         time.Duration
	Decode          time.Duration
	StopReason      string // "end" (turn end), "eos" (token 0), "stop" (a stop string), "length"
}

// PrefillTokS is prompt tokens per second.
func (s Stats) PrefillTokS() float64 { return rate(s.PromptTokens, s.Prefill) }

// DecodeTokS is generated tokens per second.
func (s Stats) DecodeTokS() float64 { return rate(s.GeneratedTokens, s.Decode) }

func rate(n int, d time.Duration) float64 {
	if n == 0 || d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Exchange is one turn of the transcript.
type Exchange struct {
	User  prompt.Message `json:"user"`
	Reply string         `json:"reply"`
}

// Session is one conversation. It is not safe for concurrent use.
type Session struct {
	m    *model.Model
	tok  tokenizer.Tokenizer
	tmpl prompt.Template
	set  Settings
	smp  *sampler.Sampler

	system  string
	noPrime bool
	initial *model.State

	state  *model.State
	start  *model.State // after the system prompt and priming: /reset
	before *model.State // before the last user turn: /regen
	spare  *model.State // what to restore when a reply fails or is cancelled
	snaps  snapRing     // before tokens that may begin a stop string

	logits []float32 // after the last fed token
	work   []float32
	one    []int

	Transcript []Exchange
	last       Stats
	// Fed counts every token fed to the model since the session began
	// (prompts and replies), to show that a turn costs only its own tokens.
	Fed int
}

// New starts a conversation: it feeds the system prompt and priming.
func New(c Config) (*Session, error) {
	if c.Model == nil || c.Tokenizer == nil {
		return nil, fmt.Errorf("chat: model and tokenizer are required")
	}
	V := c.Model.Cfg.Vocab
	s := &Session{
		m: c.Model, tok: c.Tokenizer, tmpl: c.Template, set: c.Settings,
		system: c.System, noPrime: c.NoPrime, initial: c.Initial,
		state: c.Model.NewState(), start: c.Model.NewState(), before: c.Model.NewState(), spare: c.Model.NewState(),
		logits: make([]float32, V), work: make([]float32, V), one: make([]int, 1),
	}
	s.smp = sampler.New(V, s.samplerParams())
	if err := s.restart(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Session) samplerParams() sampler.Params {
	st := s.set
	p := sampler.Params{Temperature: st.Temperature, TopP: st.TopP, TopK: st.TopK, Presence: st.Presence,
		Frequency: st.Frequency, Decay: st.Decay, Seed: st.Seed}
	p.Ban = tokenizer.Mask(s.tok, s.m.Cfg.Vocab)
	return p
}

// restart feeds the opening context from the initial state.
func (s *Session) restart() error {
	if s.initial != nil {
		s.state.CopyFrom(s.initial)
	} else {
		s.state.Reset()
	}
	clear(s.logits)
	s.Transcript = nil
	open := s.tmpl.Start(s.system, !s.noPrime && s.initial == nil)
	if open != "" {
		if _, err := s.feed(context.Background(), s.encode(open)); err != nil {
			return err
		}
	}
	s.start.CopyFrom(s.state)
	s.before.CopyFrom(s.state)
	return nil
}

// encode tokenizes prompt text; a Raven prompt that ends in "\n\n" gets the
// ChatRWKV fix (spec §9.2: 535 → 187, 187).
func (s *Session) encode(text string) []int {
	ids := s.tok.Encode([]byte(text))
	if s.tok.Name() == "neox" && len(ids) > 0 && ids[len(ids)-1] == 535 {
		ids = append(ids[:len(ids)-1], 187, 187)
	}
	return ids
}

// feed runs tokens through the model in chunks, checking ctx between them.
func (s *Session) feed(ctx context.Context, ids []int) (time.Duration, error) {
	start := time.Now()
	const chunk = 256
	for len(ids) > 0 {
		if err := ctx.Err(); err != nil {
			return time.Since(start), err
		}
		n := min(chunk, len(ids))
		if err := s.m.Forward(s.state, ids[:n], s.logits); err != nil {
			return time.Since(start), err
		}
		s.Fed += n
		ids = ids[n:]
	}
	return time.Since(start), nil
}

// Template returns the session's template.
func (s *Session) Template() prompt.Template { return s.tmpl }

// Settings returns the current settings.
func (s *Session) Settings() Settings { return s.set }

// SetSettings changes the generation settings for the next replies.
func (s *Session) SetSettings(st Settings) {
	s.set = st
	s.smp.SetParams(s.samplerParams())
}

// System returns the system prompt.
func (s *Session) System() string { return s.system }

// SetSystem replaces the system prompt and restarts the conversation.
func (s *Session) SetSystem(text string) error {
	s.system = text
	return s.restart()
}

// Reset restores the state right after the system prompt (instant) and
// clears the transcript.
func (s *Session) Reset() {
	s.state.CopyFrom(s.start)
	s.before.CopyFrom(s.start)
	s.Transcript = nil
	// The logits after the opening are not kept; the next turn feeds text
	// before anything is sampled.
}

// State is the live recurrent state.
func (s *Session) State() *model.State { return s.state }

// LastStats describes the last reply.
func (s *Session) LastStats() Stats { return s.last }

// Feed adds text to the conversation without a reply (e.g. raw prompts).
func (s *Session) Feed(ctx context.Context, text string) error {
	_, err := s.feed(ctx, s.encode(text))
	return err
}

// Reply adds the user's message and generates the answer, streaming text
// through out as it is decoded. When ctx is cancelled the state goes back to
// what it was before the message and ctx's error is returned.
func (s *Session) Reply(ctx context.Context, msg prompt.Message, out func(string)) (string, error) {
	// Keep the snapshot for /regen of the previous turn until this one
	// succeeds: a cancelled reply leaves the conversation as it was.
	s.before, s.spare = s.spare, s.before
	s.before.CopyFrom(s.state)
	text, err := s.reply(ctx, s.tmpl.Turn(msg), out)
	if err != nil {
		s.state.CopyFrom(s.before)
		s.before, s.spare = s.spare, s.before
		return "", err
	}
	s.Transcript = append(s.Transcript, Exchange{User: msg, Reply: text})
	return text, nil
}

// Regenerate replaces the last reply: the state goes back to before the
// last message, which is fed again and answered anew.
func (s *Session) Regenerate(ctx context.Context, out func(string)) (string, error) {
	if len(s.Transcript) == 0 {
		return "", fmt.Errorf("nothing to regenerate yet")
	}
	last := s.Transcript[len(s.Transcript)-1]
	s.spare.CopyFrom(s.state) // after the last reply: kept if this one fails
	s.state.CopyFrom(s.before)
	s.Transcript = s.Transcript[:len(s.Transcript)-1]
	text, err := s.reply(ctx, s.tmpl.Turn(last.User), out)
	if err != nil {
		s.state.CopyFrom(s.spare)
		s.Transcript = append(s.Transcript, last)
		return "", err
	}
	s.Transcript = append(s.Transcript, Exchange{User: last.User, Reply: text})
	return text, nil
}

// PromptText returns the exact text a message would feed (--verbose-prompt).
func (s *Session) PromptText(msg prompt.Message) string { return s.tmpl.Turn(msg) }

// OpeningText is the text fed when the conversation starts.
func (s *Session) OpeningText() string {
	return s.tmpl.Start(s.system, !s.noPrime && s.initial == nil)
}

// reply feeds the turn text, then samples until a stop condition (§11.3).
func (s *Session) reply(ctx context.Context, turn string, out func(string)) (string, error) {
	ids := s.encode(turn)
	var st Stats
	st.PromptTokens = len(ids)
	d, err := s.feed(ctx, ids)
	st.Prefill = d
	if err != nil {
		return "", err
	}
	s.smp.Reset()
	chat := s.tmpl.EndOfReply != ""
	stops := append(append([]string(nil), s.tmpl.Stops...), s.set.Stops...)
	end := s.tmpl.EndOfReply
	dec := tokenizer.NewStreamDecoder(s.tok)
	var reply []byte // raw bytes generated so far
	printed := 0     // bytes of reply already passed to out
	s.snaps.n = 0
	maxTok := s.set.MaxTokens
	if maxTok <= 0 {
		maxTok = 256
	}
	nlID := -1
	if s.tmpl.NewlineSchedule {
		if ids := s.tok.Encode([]byte("\n")); len(ids) == 1 {
			nlID = ids[0]
		}
	}
	start := time.Now()
	started := !chat
	emit := func(upto int) {
		for !started && printed < upto && isSpace(reply[printed]) {
			printed++ // the reply's leading space is not shown
		}
		started = started || printed < upto
		if upto > printed {
			if out != nil {
				if t := dec.WriteBytes(reply[printed:upto]); t != "" {
					out(t)
				}
			}
			printed = upto
		}
	}
	defer func() { st.Decode = time.Since(start); s.last = st }()
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		if i >= maxTok {
			st.StopReason = "length"
			if chat {
				if _, err := s.feed(ctx, s.encode(end)); err != nil {
					return "", err
				}
			}
			break
		}
		copy(s.work, s.logits)
		if nlID >= 0 {
			s.work[nlID] += newlineBias(i)
		}
		id := s.smp.Sample(s.work)
		if id == 0 && chat {
			// End of document: keep the state canonical by feeding the
			// turn separator instead of token 0.
			st.StopReason = "eos"
			if _, err := s.feed(ctx, s.encode(end)); err != nil {
				return "", err
			}
			break
		}
		tb := s.tok.TokenBytes(id)
		s.smp.Accept(id, tb)
		// Snapshot before a token that may begin a stop string, so the
		// state can be rolled back to before it (§11.3).
		if len(stops) > 0 && mayStartStop(tb, stops) {
			s.snaps.push(s.m, s.state, len(reply))
		}
		reply = append(reply, tb...)
		s.one[0] = id
		if err := s.m.Forward(s.state, s.one, s.logits); err != nil {
			return "", err
		}
		s.Fed++
		st.GeneratedTokens++
		if chat && end != "" {
			if k := bytes.Index(reply, []byte(end)); k >= 0 {
				st.StopReason = "end"
				reply = reply[:k]
				break
			}
		}
		if k, ok := findStop(reply, stops); ok {
			// Roll back to before the token holding the stop's first byte,
			// then end the turn canonically.
			if snap, at := s.snaps.before(k); snap != nil {
				s.state.CopyFrom(snap)
				reply = reply[:at]
			} else {
				reply = reply[:k]
			}
			st.StopReason = "stop"
			if chat {
				if _, err := s.feed(ctx, s.encode(end)); err != nil {
					return "", err
				}
			}
			break
		}
		// Print what can no longer become part of a stop or turn end.
		emit(len(reply) - holdBack(reply, stops, end))
	}
	text := string(reply)
	if chat {
		text = strings.TrimRight(text, " \t\n\r")
	}
	emit(min(len(reply), len(text)))
	if out != nil {
		if t := dec.Flush(); t != "" {
			out(t)
		}
	}
	if chat {
		text = strings.TrimSpace(text)
	}
	return text, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// snapRing keeps the last few states taken before tokens that may begin a
// stop string; stop strings are short, so the token holding a stop's first
// byte is always among the last few.
type snapRing struct {
	states [8]*model.State
	at     [8]int // reply length before the token
	head   int
	n      int
}

func (r *snapRing) push(m *model.Model, st *model.State, at int) {
	var i int
	if r.n < len(r.states) {
		i = (r.head + r.n) % len(r.states)
		r.n++
	} else {
		i = r.head
		r.head = (r.head + 1) % len(r.states)
	}
	if r.states[i] == nil {
		r.states[i] = m.NewState()
	}
	r.states[i].CopyFrom(st)
	r.at[i] = at
}

// before returns the newest snapshot taken at or before reply offset k.
func (r *snapRing) before(k int) (*model.State, int) {
	for j := r.n - 1; j >= 0; j-- {
		i := (r.head + j) % len(r.states)
		if r.at[i] <= k {
			return r.states[i], r.at[i]
		}
	}
	return nil, 0
}

// newlineBias is v2/chat.py's schedule for the newline logit at reply step
// i (Raven): no newline first, discouraged early, encouraged late.
func newlineBias(i int) float32 {
	switch {
	case i == 0:
		return -1e9
	case i <= 40:
		return float32(i-40) / 10
	case i <= 150:
		return 0
	default:
		return float32(math.Min(3, float64(i-150)*0.25))
	}
}

// mayStartStop reports whether token bytes contain the first byte of a stop.
func mayStartStop(tb []byte, stops []string) bool {
	for _, st := range stops {
		if st != "" && bytes.IndexByte(tb, st[0]) >= 0 {
			return true
		}
	}
	return false
}

// findStop returns the offset of the earliest stop string in reply.
func findStop(reply []byte, stops []string) (int, bool) {
	best, ok := len(reply), false
	for _, st := range stops {
		if st == "" {
			continue
		}
		if k := bytes.Index(reply, []byte(st)); k >= 0 && k < best {
			best, ok = k, true
		}
	}
	return best, ok
}

// holdBack is how many trailing bytes of reply could still grow into a stop
// string or the turn end, and so must not be printed yet.
func holdBack(reply []byte, stops []string, end string) int {
	n := 0
	check := func(st string) {
		for k := min(len(st)-1, len(reply)); k > n; k-- {
			if bytes.HasSuffix(reply, []byte(st[:k])) {
				n = k
				return
			}
		}
	}
	for _, st := range stops {
		if st != "" {
			check(st)
		}
	}
	if end != "" {
		check(end)
	}
	// Trailing whitespace is trimmed from a finished reply: hold it too.
	t := len(reply)
	for t > 0 && (reply[t-1] == ' ' || reply[t-1] == '\n' || reply[t-1] == '\t' || reply[t-1] == '\r') {
		t--
	}
	return max(n, len(reply)-t)
}
