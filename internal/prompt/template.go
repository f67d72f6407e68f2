// Package prompt turns chat messages into the exact bytes an RWKV model was
// trained on (spec §10): the templates raw, world, g1, raven, raven-instruct
// and instruct, message cleaning (§10.1), question-first composition with a
// document (§10.4), per-template sampler defaults (§11.2), and the parser of
// the chat's /commands. It is pure text processing: no model, no tokenizer,
// no terminal.
//
// A conversation is fed as
//
//	Start(system, prime) + Turn(m1) + <reply 1> + Turn(m2) + <reply 2> + …
//
// where each reply is what the model generated, ending with the template's
// EndOfReply ("\n\n"), which stays in the state. Only the new Turn is fed at
// each step; Render builds the whole text at once.
package prompt

import (
	"fmt"
	"slices"
	"strings"
)

// Sep is the turn separator of every chat template: exactly one blank line.
const Sep = "\n\n"

// Think selects the reasoning variant of the assistant's opening (G1/G0
// models, RWKV7-G1x-templates.txt). Templates with SupportsThink false
// ignore it.
type Think int

const (
	// ThinkOff ends the turn with "Assistant:".
	ThinkOff Think = iota
	// ThinkOn ends the turn with "Assistant: <think" (the model writes its
	// reasoning, then the answer).
	ThinkOn
	// ThinkFake ends the turn with "Assistant: <think>\n</think" (an empty
	// reasoning block: fast, often good).
	ThinkFake
)

// Effort is the length hint appended to the user's text in ThinkOn mode.
type Effort int

const (
	EffortDefault Effort = iota // no hint
	EffortNormal                // " (think)"
	EffortLittle                // " (think a bit)"
	EffortMuch                  // " (think a lot)"
)

var effortSuffix = [...]string{"", " (think)", " (think a bit)", " (think a lot)"}

// Sampling holds a template's default generation settings (spec §11.2's
// table). Package sampler has its own Params; the chat session copies these
// into it.
type Sampling struct {
	Temperature float64 // 0 = greedy
	TopP        float64
	TopK        int // 0 = off
	Presence    float64
	Frequency   float64
	Decay       float64
	MaxTokens   int
}

// Message is one user turn.
type Message struct {
	// Text is the user's message, or the question when Document is set.
	Text string
	// Document is optional material the question is about (piped stdin,
	// --file, /read). It is placed after the question and followed by a
	// one-line restatement of the question (the "sandwich", §10.4). With an
	// empty Text the document is the message.
	Document string
	// Think and Effort select the G1 reasoning variants.
	Think  Think
	Effort Effort
	// NoRestate drops the restatement line after the document.
	NoRestate bool
}

// Exchange is a finished turn of a conversation: the user's message and the
// assistant's reply as displayed (stripped).
type Exchange struct {
	User  Message
	Reply string
}

type kind int

const (
	kindRaw kind = iota
	kindWorld
	kindRaven
	kindInstruct
	kindRavenInstruct
)

// Template is one prompt format. Values returned by Lookup are copies; it is
// safe to modify them.
type Template struct {
	// Name is the canonical name ("raw", "world", "g1", "raven",
	// "raven-instruct", "instruct").
	Name string
	// Description is one line for --help and error messages.
	Description string
	// UserName and BotName are the role names ("User"/"Assistant",
	// "Bob"/"Alice"); empty for raw and raven-instruct.
	UserName, BotName string
	// Priming is the initial context fed after the system prompt when
	// priming is on (Start's prime argument). Empty: the template has none.
	// Priming is used by default by "world" (API_DEMO_CHAT's "User: hi"
	// exchange) and "raven" (v2/chat.py English-2 prompt); "g1" has none,
	// like the G1 template file. The session should pass prime=false when a
	// state-tuning file (§12) provides the initial state, as API_DEMO_CHAT
	// does.
	Priming string
	// EndOfReply ends a reply: generation stops as soon as the decoded reply
	// contains it, and its bytes, already fed, are the canonical turn end the
	// next turn expects (§11.3). "\n\n" for chat and instruct; empty for raw
	// and raven-instruct, whose replies run to token 0 or max tokens.
	EndOfReply string
	// Stops are extra safety-net stop strings (a hallucinated next turn
	// after a single newline). When one triggers, the session rolls the
	// state back to before its first token and feeds EndOfReply (§11.3).
	Stops []string
	// SingleShot templates are meant to be fed once from a fresh state
	// (instruct, raven-instruct); multi-turn use merely concatenates.
	SingleShot bool
	// SupportsThink reports whether Message.Think and Effort have an effect.
	SupportsThink bool
	// NewlineSchedule asks the session for v2/chat.py's newline handling
	// (§11.3, Raven chat): the reply cannot start with "\n" and the newline
	// logit gets the step-dependent bias.
	NewlineSchedule bool
	// Defaults are the sampler settings of §11.2 for this template.
	Defaults Sampling

	kind kind
}

const (
	worldPriming = "User: hi\n\nAssistant: Hi. I am your assistant and I will provide expert full response in full details. Please feel free to ask any question and I will always answer it.\n\n"

	ravenPriming = "\nThe following is a coherent verbose detailed conversation between a girl named Alice and her friend Bob. Alice is very intelligent, creative and friendly. Alice is unlikely to disagree with Bob, and Alice doesn't like to ask Bob questions. Alice likes to tell Bob a lot about herself and her opinions. Alice usually gives Bob kind, helpful and informative advices.\n\n" +
		"Bob: Hello Alice, how are you doing?\n\n" +
		"Alice: Hi! Thanks, I'm fine. What about you?\n\n" +
		"Bob: I am fine. It's nice to see you. Look, here is a store selling tea and juice.\n\n" +
		"Alice: Sure. Let's go inside. I would like to have some Mocha latte, which is my favourite!\n\n" +
		"Bob: What is it?\n\n" +
		"Alice: Mocha latte is usually made with espresso, milk, chocolate, and frothed milk. Its flavors are frequently sweet.\n\n" +
		"Bob: Sounds tasty. I'll try it next time. Would you like to chat with me for a while?\n\n" +
		"Alice: Of course! I'm glad to answer your questions or give helpful advices. You know, I am confident with my expertise. So please go ahead!\n\n"

	ravenInstructHead      = "\nBelow is an instruction that describes a task. Write a response that appropriately completes the request.\n\n# Instruction:\n"
	ravenInstructInputHead = "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n# Instruction:\n"
)

var (
	// API_DEMO_CHAT row.
	chatDefaults = Sampling{Temperature: 1.0, TopP: 0.3, TopK: 0, Presence: 0.5, Frequency: 0.5, Decay: 0.996, MaxTokens: 999}
	// v2/chat.py row.
	ravenDefaults = Sampling{Temperature: 1.2, TopP: 0.5, TopK: 0, Presence: 0.4, Frequency: 0.4, Decay: 0.996, MaxTokens: 999}
	// v2/chat.py row, FREE_GEN_LEN for the +i mode.
	ravenInstructDefaults = Sampling{Temperature: 1.2, TopP: 0.5, TopK: 0, Presence: 0.4, Frequency: 0.4, Decay: 0.996, MaxTokens: 256}
	// PIPELINE_ARGS() defaults, FREE_GEN_LEN.
	rawDefaults = Sampling{Temperature: 1.0, TopP: 0.85, TopK: 0, Presence: 0.2, Frequency: 0.2, Decay: 0.996, MaxTokens: 256}
	// API_DEMO_WORLD QA row.
	instructDefaults = Sampling{Temperature: 1.0, TopP: 0.2, TopK: 0, Presence: 0.4, Frequency: 0.4, Decay: 0.996, MaxTokens: 999}
)

var templates = []Template{
	{
		Name:        "raw",
		Description: "no formatting: the message is fed as typed",
		Defaults:    rawDefaults,
		kind:        kindRaw,
	},
	{
		Name:          "world",
		Description:   "RWKV World (v4-World/v5/v6) chat: User:/Assistant:, primed with API_DEMO_CHAT's greeting",
		UserName:      "User",
		BotName:       "Assistant",
		Priming:       worldPriming,
		EndOfReply:    Sep,
		Stops:         []string{"\nUser:", "\nAssistant:", "\nSystem:"},
		SupportsThink: true,
		Defaults:      chatDefaults,
		kind:          kindWorld,
	},
	{
		Name:          "g1",
		Description:   "RWKV-7 G0/G1 chat: User:/Assistant:, System:, think variants, no priming",
		UserName:      "User",
		BotName:       "Assistant",
		EndOfReply:    Sep,
		Stops:         []string{"\nUser:", "\nAssistant:", "\nSystem:"},
		SupportsThink: true,
		Defaults:      chatDefaults,
		kind:          kindWorld,
	},
	{
		Name:            "raven",
		Description:     "RWKV-4 Raven chat (20B tokenizer): Bob:/Alice:, primed with ChatRWKV's English-2 prompt",
		UserName:        "Bob",
		BotName:         "Alice",
		Priming:         ravenPriming,
		EndOfReply:      Sep,
		Stops:           []string{"\nBob:", "\nAlice:"},
		NewlineSchedule: true,
		Defaults:        ravenDefaults,
		kind:            kindRaven,
	},
	{
		Name:        "raven-instruct",
		Description: "RWKV-4 Raven instruction format (# Instruction: / # Input: / # Response:), single-shot",
		SingleShot:  true,
		Defaults:    ravenInstructDefaults,
		kind:        kindRavenInstruct,
	},
	{
		Name:        "instruct",
		Description: "RWKV World single-shot Instruction:/Input:/Response: (User:/Assistant: without a document)",
		UserName:    "User",
		BotName:     "Assistant",
		EndOfReply:  Sep,
		Stops:       []string{"\nUser:", "\nInstruction:"},
		SingleShot:  true,
		Defaults:    instructDefaults,
		kind:        kindInstruct,
	},
}

var aliases = map[string]string{"g0": "g1"}

// Names returns the canonical template names, sorted.
func Names() []string {
	names := make([]string, len(templates))
	for i, t := range templates {
		names[i] = t.Name
	}
	slices.Sort(names)
	return names
}

// Lookup returns the template called name (case-insensitive; "g0" is an
// alias of "g1").
func Lookup(name string) (Template, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if a, ok := aliases[n]; ok {
		n = a
	}
	for _, t := range templates {
		if t.Name == n {
			t.Stops = slices.Clone(t.Stops)
			return t, nil
		}
	}
	return Template{}, fmt.Errorf("unknown template %q (valid: %s)", name, strings.Join(Names(), ", "))
}

// ForModel picks the default template name for a model.
//
// version is the model version as in spec §0 ("4", "5.2", "6.0", "7.0"; a
// leading "v" and rwkv.cpp-style "x070" are accepted); tokenizer is "world",
// "neox" (also "20b", "gpt-neox") or "bytes" (also "byte"). World tokenizer:
// v7 → "g1", v4/v5/v6 (and unknown versions) → "world"; NeoX (RWKV-4
// Raven/Pile, RWKV-7 Pile) → "raven"; bytes (vocab 256) and anything else →
// "raw".
func ForModel(version, tokenizer string) string {
	switch strings.ToLower(strings.TrimSpace(tokenizer)) {
	case "world", "rwkv-world", "rwkv_vocab_v20230424":
		if major(version) == 7 {
			return "g1"
		}
		return "world"
	case "neox", "20b", "gpt-neox", "gpt-neox-20b":
		return "raven"
	default:
		return "raw"
	}
}

// major extracts the major version number, or 0.
func major(version string) int {
	v := strings.ToLower(strings.TrimSpace(version))
	v = strings.TrimPrefix(v, "rwkv")
	v = strings.TrimLeft(v, "-_ ")
	v = strings.TrimPrefix(v, "v")
	if strings.HasPrefix(v, "x0") && len(v) > 2 { // rwkv.cpp / CUDA style x070, x060, x052
		v = v[2:]
	}
	if v == "" || v[0] < '0' || v[0] > '9' {
		return 0
	}
	return int(v[0] - '0')
}

// Start renders the context fed at the start of a conversation (and again
// after /reset): the system prompt, if any, then the priming, if prime is set
// and the template has one. The result ends with the turn separator (or is
// empty), so the first Turn follows directly.
//
//	world/g1/instruct: "System: {Clean(system)}\n\n" + Priming
//	raven:             "\n{Clean(system)}\n\n" + Priming without its leading "\n"
//	                   (Raven has no System role; the system text becomes the
//	                   opening narrative paragraph, and a fresh 20B-tokenizer
//	                   context starts with "\n" as in ChatRWKV)
//	raven-instruct:    "\n{Clean(system)}\n\n" (single-shot, no priming)
//	raw:               "{TrimSpace(system)}\n\n"
func (t Template) Start(system string, prime bool) string {
	sys := Clean(system)
	priming := ""
	if prime {
		priming = t.Priming
	}
	switch t.kind {
	case kindRaw:
		if sys == "" {
			return ""
		}
		return strings.TrimFunc(system, isPySpace) + Sep
	case kindRaven, kindRavenInstruct:
		if sys == "" {
			return priming
		}
		return "\n" + sys + Sep + strings.TrimPrefix(priming, "\n")
	default:
		if sys == "" {
			return priming
		}
		return "System: " + sys + Sep + priming
	}
}

// User is Turn for a plain message.
func (t Template) User(msg string) string { return t.Turn(Message{Text: msg}) }

// Turn renders one user turn, ending where the model must continue (no
// trailing space: the model writes the space itself). Messages are cleaned
// (§10.1) except for raw.
//
// Plain message m:
//
//	world/g1, instruct: "User: {m}\n\nAssistant:"
//	  ThinkOn:          "User: {m}{effort}\n\nAssistant: <think"
//	  ThinkFake:        "User: {m}\n\nAssistant: <think>\n</think"
//	raven:              "Bob: {m}\n\nAlice:"
//	raven-instruct:     "\nBelow is an instruction that describes a task. Write a response that appropriately completes the request.\n\n# Instruction:\n{m}\n\n# Response:\n"
//	raw:                m exactly as given
//
// Question q with document d (question first, then the document, then the
// question again as one short line r = "(Question: {oneLine(q)})", §10.4):
//
//	world/g1:       "User: {q}\n{d}\n{r}\n\nAssistant:"
//	raven:          "Bob: {q}\n{d}\n{r}\n\nAlice:"
//	instruct:       "Instruction: {q}\n\nInput: {d}\n{r}\n\nResponse:"
//	raven-instruct: "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n# Instruction:\n{q}\n\n# Input:\n{d}\n{r}\n\n# Response:\n"
//	raw:            "{q}\n\n{d}\n\n{r}" (q and d only trimmed)
//
// With NoRestate, "\n{r}" (raw: "\n\n{r}") is left out. A document without a
// question is rendered as the plain message. The effort hint and the think
// endings apply to the sandwich as well (the hint follows r).
func (t Template) Turn(m Message) string {
	q, doc := m.Text, m.Document
	if t.kind == kindRaw {
		qt, dt := strings.TrimFunc(q, isPySpace), strings.TrimFunc(doc, isPySpace)
		switch {
		case dt == "":
			return q
		case qt == "":
			return doc
		}
		s := qt + Sep + dt
		if !m.NoRestate {
			s += Sep + restate(q)
		}
		return s
	}

	qc, dc := Clean(q), Clean(doc)
	if qc == "" {
		qc, dc = dc, ""
	}
	body := qc
	if dc != "" {
		body = qc + "\n" + dc
		if !m.NoRestate {
			body += "\n" + restate(q)
		}
	}

	switch t.kind {
	case kindRaven:
		return "Bob: " + body + "\n\nAlice:"
	case kindRavenInstruct:
		if dc == "" {
			return ravenInstructHead + qc + "\n\n# Response:\n"
		}
		in := dc
		if !m.NoRestate {
			in += "\n" + restate(q)
		}
		return ravenInstructInputHead + qc + "\n\n# Input:\n" + in + "\n\n# Response:\n"
	case kindInstruct:
		if dc == "" {
			return "User: " + qc + "\n\nAssistant:"
		}
		in := dc
		if !m.NoRestate {
			in += "\n" + restate(q)
		}
		return "Instruction: " + qc + "\n\nInput: " + in + "\n\nResponse:"
	}

	// world / g1
	switch m.Think {
	case ThinkOn:
		if m.Effort > EffortDefault && int(m.Effort) < len(effortSuffix) {
			body += effortSuffix[m.Effort]
		}
		return "User: " + body + "\n\nAssistant: <think"
	case ThinkFake:
		return "User: " + body + "\n\nAssistant: <think>\n</think"
	}
	return "User: " + body + "\n\nAssistant:"
}

// restate is the one-line restatement of a question after a document.
func restate(q string) string { return "(Question: " + oneLine(q) + ")" }

// Reply renders an assistant reply, given as displayed text, in the form the
// model produces it: " {Clean(text)}\n\n" (raven-instruct: "{Clean(text)}\n\n";
// raw: text unchanged). Use it to build a conversation from a transcript;
// tokens the model generated are already in the state and need no rendering.
func (t Template) Reply(text string) string {
	switch t.kind {
	case kindRaw:
		return text
	case kindRavenInstruct:
		return Clean(text) + Sep
	}
	return " " + Clean(text) + Sep
}

// Render builds the full prompt of a conversation: Start, then every past
// exchange (Turn + Reply), then the next user turn.
func (t Template) Render(system string, prime bool, history []Exchange, next Message) string {
	var b strings.Builder
	b.WriteString(t.Start(system, prime))
	for _, ex := range history {
		b.WriteString(t.Turn(ex.User))
		b.WriteString(t.Reply(ex.Reply))
	}
	b.WriteString(t.Turn(next))
	return b.String()
}
