package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/rwkv-chat/rwkv-chat/internal/chat"
	"github.com/rwkv-chat/rwkv-chat/internal/model"
	"github.com/rwkv-chat/rwkv-chat/internal/prompt"
	"github.com/rwkv-chat/rwkv-chat/internal/tokenizer"
	"github.com/spf13/cobra"
)

// genOptions are the flags shared by `run` and `chat`: model, tokenizer,
// template, system prompt, sampling and session file.
type genOptions struct {
	model       modelOptions
	Tokenizer   string
	Template    string
	System      string
	Temperature float64
	TopP        float64
	TopK        int
	Presence    float64
	Frequency   float64
	Decay       float64
	MaxTokens   int
	Seed        uint64
	Stops       []string
	Session     string
	NoPrime     bool
	StateFile   string

	flags *cobra.Command
}

func (o *genOptions) addFlags(cmd *cobra.Command) {
	o.flags = cmd
	o.model.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Tokenizer, "tokenizer", "", "world, neox, bytes or a vocab file (default: from the model's vocabulary)")
	f.StringVarP(&o.Template, "template", "t", "", "prompt template: "+strings.Join(prompt.Names(), ", ")+" (default: from the model)")
	f.StringVarP(&o.System, "system", "s", "", "system prompt")
	f.Float64Var(&o.Temperature, "temperature", 0, "sampling temperature; 0 = greedy (default: the template's)")
	f.Float64Var(&o.TopP, "top-p", 0, "nucleus sampling mass (default: the template's)")
	f.IntVar(&o.TopK, "top-k", 0, "keep only the k most likely tokens; 0 = off (default: the template's)")
	f.Float64Var(&o.Presence, "presence", 0, "presence penalty (default: the template's)")
	f.Float64Var(&o.Frequency, "frequency", 0, "frequency penalty (default: the template's)")
	f.Float64Var(&o.Decay, "decay", 0, "penalty decay per token (default: the template's)")
	f.IntVarP(&o.MaxTokens, "max-tokens", "n", 0, "most tokens to generate (default: the template's)")
	f.Uint64Var(&o.Seed, "seed", 0, "random seed for reproducible sampling (default: random)")
	f.StringArrayVar(&o.Stops, "stop", nil, "stop before this string (repeatable)")
	f.StringVar(&o.Session, "session", "", "session NAME or FILE: resume from it and save after every turn")
	f.BoolVar(&o.NoPrime, "no-prime", false, "skip the template's priming exchange")
	f.StringVar(&o.StateFile, "state", "", "initial state from a state-tuning file (.pth or .safetensors with blocks.N.att.time_state)")
}

// settings applies the flags the user set over the template's defaults.
func (o *genOptions) settings(t prompt.Template) chat.Settings {
	s := chat.FromTemplate(t)
	f := o.flags.Flags()
	if f.Changed("temperature") {
		s.Temperature = o.Temperature
	}
	if f.Changed("top-p") {
		s.TopP = o.TopP
	}
	if f.Changed("top-k") {
		s.TopK = o.TopK
	}
	if f.Changed("presence") {
		s.Presence = o.Presence
	}
	if f.Changed("frequency") {
		s.Frequency = o.Frequency
	}
	if f.Changed("decay") {
		s.Decay = o.Decay
	}
	if f.Changed("max-tokens") {
		s.MaxTokens = o.MaxTokens
	}
	if f.Changed("seed") {
		s.Seed = o.Seed
	} else {
		s.Seed = rand.Uint64()
	}
	// Greedy decoding means the argmax of the model's own logits: the
	// template's repetition penalties apply only when asked for.
	if s.Temperature == 0 {
		if !f.Changed("presence") {
			s.Presence = 0
		}
		if !f.Changed("frequency") {
			s.Frequency = 0
		}
	}
	s.Stops = o.Stops
	return s
}

func (o *genOptions) validate() error {
	if o.Temperature < 0 || o.TopP < 0 || o.TopK < 0 || o.MaxTokens < 0 {
		return usageErrorf("--temperature, --top-p, --top-k and --max-tokens must not be negative")
	}
	return nil
}

// loaded is a model with its tokenizer and template.
type loaded struct {
	m    *model.Model
	tok  tokenizer.Tokenizer
	tmpl prompt.Template
}

func (o *genOptions) load() (*loaded, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	m, _, err := o.model.load()
	if err != nil {
		return nil, err
	}
	tok, err := selectTokenizer(m, o.Tokenizer, o.model.Path)
	if err != nil {
		m.Close()
		return nil, err
	}
	name := o.Template
	if name == "" {
		name = prompt.ForModel(m.Cfg.Version, tok.Name())
	}
	if o.Session != "" && o.Template == "" {
		if data, err := os.ReadFile(o.sessionPath()); err == nil {
			if n := chat.TemplateName(data); n != "" {
				name = n
			}
		}
	}
	tmpl, err := prompt.Lookup(name)
	if err != nil {
		m.Close()
		return nil, usageError{err}
	}
	return &loaded{m: m, tok: tok, tmpl: tmpl}, nil
}

// sessionPath maps a session NAME to a file in the user's state dir; a
// value with a path separator or an extension is used as a file path.
func (o *genOptions) sessionPath() string {
	return sessionFile(o.Session)
}

func sessionFile(name string) string {
	if strings.ContainsAny(name, `/\`) || filepath.Ext(name) != "" {
		return name
	}
	return filepath.Join(stateDir(), "sessions", name+".rwkvsession")
}

// stateDir is where rwkv-chat keeps sessions and history.
func stateDir() string {
	if d := os.Getenv("RWKV_CHAT_HOME"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "rwkv-chat")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "rwkv-chat")
	}
	return filepath.Join(os.TempDir(), "rwkv-chat")
}

// newSession builds the conversation and resumes --session when its file
// exists.
func (o *genOptions) newSession(l *loaded) (*chat.Session, error) {
	cfg := chat.Config{Model: l.m, Tokenizer: l.tok, Template: l.tmpl, Settings: o.settings(l.tmpl),
		System: o.System, NoPrime: o.NoPrime}
	if o.StateFile != "" {
		st, err := l.m.LoadStateFile(o.StateFile)
		if err != nil {
			return nil, err
		}
		cfg.Initial = st
	}
	sess, err := chat.New(cfg)
	if err != nil {
		return nil, err
	}
	if o.Session != "" {
		path := o.sessionPath()
		if _, err := os.Stat(path); err == nil {
			if err := sess.Load(path); err != nil {
				return nil, err
			}
			if o.flags.Flags().Changed("system") && o.System != sess.System() {
				if err := sess.SetSystem(o.System); err != nil {
					return nil, err
				}
			}
			sess.SetSettings(o.settings(l.tmpl))
		}
	}
	return sess, nil
}

// saveSession writes --session after a turn.
func (o *genOptions) saveSession(sess *chat.Session) error {
	if o.Session == "" {
		return nil
	}
	path := o.sessionPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("saving session: %w", err)
	}
	return sess.Save(path)
}
