package prompt

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// Command is a parsed chat /command.
type Command struct {
	// Name is the canonical command name without the slash: "help",
	// "reset", "regen", "system", "set", "think", "read", "save", "load",
	// "stats" or "bye".
	Name string
	// Arg is the argument: the system prompt for /system (empty = remove
	// it), "on", "off" or "fake" for /think, the file for /read, the name for
	// /save and /load (one layer of surrounding quotes removed).
	Arg string
	// Key and Value are set by /set only. Key is one of SetKeys(); Value is
	// checked for the key's range and is a whole number for top_k and
	// max_tokens.
	Key   string
	Value float64
}

// CommandInfo describes one command for /help.
type CommandInfo struct {
	Name  string // canonical name without the slash
	Usage string // e.g. "/set KEY VALUE"
	Help  string // one line
}

var commandInfos = []CommandInfo{
	{"help", "/help", "show this help"},
	{"reset", "/reset", "forget the conversation (back to the state after the system prompt)"},
	{"regen", "/regen", "regenerate the last reply"},
	{"system", "/system TEXT", "set the system prompt and start over (no TEXT: remove it)"},
	{"set", "/set KEY VALUE", "change a setting: temp, top_p, top_k, presence, frequency, max_tokens"},
	{"think", "/think on|off", "reasoning mode for G1 models (also: fake, an empty <think> block)"},
	{"read", "/read FILE", "use FILE as the document for the next question (asked first, then the document)"},
	{"save", "/save NAME", "save the conversation (state and transcript)"},
	{"load", "/load NAME", "load a saved conversation"},
	{"stats", "/stats", "show token counts and speeds"},
	{"bye", "/bye", "leave (also Ctrl-D)"},
}

var commandAliases = map[string]string{
	"?":          "help",
	"h":          "help",
	"exit":       "bye",
	"quit":       "bye",
	"q":          "bye",
	"clear":      "reset",
	"retry":      "regen",
	"regenerate": "regen",
}

// setKeys are the keys accepted by /set, in display order.
var setKeys = []string{"temp", "top_p", "top_k", "presence", "frequency", "max_tokens"}

var setKeyAliases = map[string]string{
	"temperature":        "temp",
	"t":                  "temp",
	"topp":               "top_p",
	"topk":               "top_k",
	"presence_penalty":   "presence",
	"frequency_penalty":  "frequency",
	"freq":               "frequency",
	"max":                "max_tokens",
	"maxtokens":          "max_tokens",
	"max_new_tokens":     "max_tokens",
	"n_predict":          "max_tokens",
	"alpha_presence":     "presence",
	"alpha_frequency":    "frequency",
	"repetition_penalty": "", // a transformer notion; rejected with a hint
}

// maxWhole bounds top_k and max_tokens.
const maxWhole = 1 << 30

// Commands returns the descriptions of all commands, in help order.
func Commands() []CommandInfo { return append([]CommandInfo(nil), commandInfos...) }

// CommandNames returns the commands with their slash ("/help", "/reset", …)
// in help order, for tab completion.
func CommandNames() []string {
	names := make([]string, len(commandInfos))
	for i, c := range commandInfos {
		names[i] = "/" + c.Name
	}
	return names
}

// SetKeys returns the keys /set accepts, for completion and messages.
func SetKeys() []string { return append([]string(nil), setKeys...) }

// HelpText is the text /help prints: one line per command.
func HelpText() string {
	var b strings.Builder
	w := 0
	for _, c := range commandInfos {
		w = max(w, len(c.Usage))
	}
	for _, c := range commandInfos {
		fmt.Fprintf(&b, "  %-*s  %s\n", w, c.Usage, c.Help)
	}
	b.WriteString(`  """               start and end a multi-line message` + "\n")
	return b.String()
}

// IsCommand reports whether a line typed at the chat prompt is a command:
// its first non-space character is '/'.
func IsCommand(line string) bool {
	return strings.HasPrefix(strings.TrimLeftFunc(line, unicode.IsSpace), "/")
}

// ErrNotCommand is returned by ParseCommand for a line without a leading '/'.
var ErrNotCommand = errors.New("not a command (commands start with /)")

// ParseCommand parses a chat command line such as "/set temp 0.7". The
// command name is case-insensitive; surrounding whitespace is ignored. Errors
// say what was wrong and what is accepted.
func ParseCommand(line string) (Command, error) {
	s := strings.TrimSpace(line)
	if !strings.HasPrefix(s, "/") {
		return Command{}, ErrNotCommand
	}
	s = s[1:]
	word, rest := s, ""
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		word, rest = s[:i], strings.TrimSpace(s[i:])
	}
	if word == "" {
		return Command{}, errors.New("empty command; type /help for the list")
	}
	name := strings.ToLower(word)
	if a, ok := commandAliases[name]; ok {
		name = a
	}
	if !isCommandName(name) {
		return Command{}, unknownCommand(word)
	}
	c := Command{Name: name}
	switch name {
	case "help", "reset", "regen", "stats", "bye":
		if rest != "" {
			return Command{}, fmt.Errorf("/%s takes no argument", name)
		}
	case "system":
		c.Arg = rest
	case "think":
		switch strings.ToLower(rest) {
		case "on", "true", "yes", "1":
			c.Arg = "on"
		case "off", "false", "no", "0":
			c.Arg = "off"
		case "fake":
			c.Arg = "fake"
		case "":
			return Command{}, errors.New("usage: /think on|off (or fake)")
		default:
			return Command{}, fmt.Errorf("/think: %q is not on, off or fake", rest)
		}
	case "read", "save", "load":
		c.Arg = unquote(rest)
		if c.Arg == "" {
			what := "NAME"
			if name == "read" {
				what = "FILE"
			}
			return Command{}, fmt.Errorf("usage: /%s %s", name, what)
		}
	case "set":
		k, v, err := parseSet(rest)
		if err != nil {
			return Command{}, err
		}
		c.Key, c.Value = k, v
	}
	return c, nil
}

func isCommandName(name string) bool {
	for _, c := range commandInfos {
		if c.Name == name {
			return true
		}
	}
	return false
}

func unknownCommand(word string) error {
	lw := strings.ToLower(word)
	var near []string
	for _, c := range commandInfos {
		if strings.HasPrefix(c.Name, lw) || strings.HasPrefix(lw, c.Name) {
			near = append(near, "/"+c.Name)
		}
	}
	if len(near) > 0 {
		return fmt.Errorf("unknown command /%s (did you mean %s?); type /help for the list", word, strings.Join(near, " or "))
	}
	return fmt.Errorf("unknown command /%s; commands: %s", word, strings.Join(CommandNames(), " "))
}

// unquote removes one layer of matching surrounding quotes.
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

func parseSet(rest string) (string, float64, error) {
	usage := fmt.Errorf("usage: /set KEY VALUE, KEY one of %s", strings.Join(setKeys, ", "))
	f := strings.Fields(rest)
	if len(f) == 1 && strings.Contains(f[0], "=") { // /set temp=0.7
		k, v, _ := strings.Cut(f[0], "=")
		f = []string{k, v}
	}
	if len(f) != 2 || f[0] == "" || f[1] == "" {
		return "", 0, usage
	}
	key := strings.ReplaceAll(strings.ToLower(strings.TrimLeft(f[0], "-")), "-", "_")
	if a, ok := setKeyAliases[key]; ok {
		if a == "" {
			return "", 0, fmt.Errorf("/set: %s is not used by RWKV; use presence and frequency (penalties with decay)", f[0])
		}
		key = a
	}
	known := false
	for _, k := range setKeys {
		known = known || k == key
	}
	if !known {
		return "", 0, fmt.Errorf("/set: unknown key %q; keys: %s", f[0], strings.Join(setKeys, ", "))
	}
	v, err := strconv.ParseFloat(f[1], 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return "", 0, fmt.Errorf("/set %s: %q is not a number", key, f[1])
	}
	if err := CheckSetting(key, v); err != nil {
		return "", 0, err
	}
	return key, v, nil
}

// CheckSetting validates a value for a /set key (also usable for flags):
// temp ≥ 0 (0 = greedy), 0 ≤ top_p ≤ 1, top_k a whole number ≥ 0 (0 = off),
// presence and frequency finite, max_tokens a whole number ≥ 1.
func CheckSetting(key string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("/set %s: value must be a finite number", key)
	}
	switch key {
	case "temp":
		if v < 0 {
			return fmt.Errorf("/set temp: %g is negative (0 = greedy)", v)
		}
	case "top_p":
		if v < 0 || v > 1 {
			return fmt.Errorf("/set top_p: %g is outside [0, 1]", v)
		}
	case "top_k":
		if v < 0 || v != math.Trunc(v) || v > maxWhole {
			return fmt.Errorf("/set top_k: %g is not a whole number ≥ 0 (0 = off)", v)
		}
	case "max_tokens":
		if v < 1 || v != math.Trunc(v) || v > maxWhole {
			return fmt.Errorf("/set max_tokens: %g is not a whole number ≥ 1", v)
		}
	case "presence", "frequency":
	default:
		return fmt.Errorf("/set: unknown key %q; keys: %s", key, strings.Join(setKeys, ", "))
	}
	return nil
}

// String renders the command in canonical form; ParseCommand(c.String())
// returns c.
func (c Command) String() string {
	switch c.Name {
	case "set":
		return "/set " + c.Key + " " + strconv.FormatFloat(c.Value, 'g', -1, 64)
	case "system", "think":
		if c.Arg == "" {
			return "/" + c.Name
		}
		return "/" + c.Name + " " + c.Arg
	case "read", "save", "load":
		a := c.Arg
		if a != strings.TrimSpace(a) || unquote(a) != a {
			a = `"` + a + `"`
		}
		return "/" + c.Name + " " + a
	}
	return "/" + c.Name
}
