package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/rwkv-chat/rwkv-chat/internal/prompt"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newRunCmd) }

type runOptions struct {
	gen           genOptions
	Prompt        string
	PromptFile    string
	File          string
	JSON          bool
	VerbosePrompt bool
	Think         string
}

// runResult is what `run --json` prints.
type runResult struct {
	Text            string  `json:"text"`
	PromptTokens    int     `json:"prompt_tokens"`
	GeneratedTokens int     `json:"generated_tokens"`
	PrefillTokS     float64 `json:"prefill_tok_s"`
	DecodeTokS      float64 `json:"decode_tok_s"`
	StopReason      string  `json:"stop_reason"`
	Template        string  `json:"template"`
}

func newRunCmd(s *streams) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run --model FILE --prompt TEXT",
		Short: "Answer one prompt and exit (stdin, when piped, is the document the prompt asks about)",
		Long: `run answers one message and exits. The answer goes to stdout, nothing else does.

When stdin is not a terminal, all of it is a document and --prompt the question
about it: the template puts the question first, then the document, then the
question again (an RNN reads once and cannot look back). With no --prompt, stdin
is the message. --file FILE gives the document explicitly.

Exit codes: 0 ok, 1 runtime error, 2 usage error, 130 interrupted (Ctrl-C),
143 terminated (SIGTERM). A reader that closes stdout early ends run quietly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRun(cmd.Context(), o, s) },
	}
	o.gen.addFlags(cmd)
	f := cmd.Flags()
	f.StringVarP(&o.Prompt, "prompt", "p", "", "the message or question")
	f.StringVar(&o.PromptFile, "prompt-file", "", "read the message from FILE (raw bytes)")
	f.StringVarP(&o.File, "file", "f", "", "a document the prompt asks about (question-first)")
	f.BoolVar(&o.JSON, "json", false, "print one JSON object with the text and figures instead of streaming")
	f.BoolVar(&o.VerbosePrompt, "verbose-prompt", false, "print the exact prompt text fed to the model on stderr")
	f.StringVar(&o.Think, "think", "off", "reasoning mode for G1 models: off, on, fake")
	return cmd
}

// message assembles the user's message from --prompt, --prompt-file,
// --file and stdin.
func (o *runOptions) message(s *streams) (prompt.Message, error) {
	var msg prompt.Message
	text := o.Prompt
	if o.PromptFile != "" {
		if o.Prompt != "" {
			return msg, usageErrorf("give --prompt or --prompt-file, not both")
		}
		b, err := os.ReadFile(o.PromptFile)
		if err != nil {
			return msg, fmt.Errorf("reading --prompt-file: %w", err)
		}
		text = string(b)
	}
	var doc string
	if o.File != "" {
		b, err := os.ReadFile(o.File)
		if err != nil {
			return msg, fmt.Errorf("reading --file: %w", err)
		}
		doc = string(b)
	} else if !s.InTTY && s.In != nil {
		b, err := io.ReadAll(s.In)
		if err != nil {
			return msg, fmt.Errorf("reading stdin: %w", err)
		}
		doc = string(b)
	}
	if text == "" && doc == "" {
		return msg, usageErrorf("nothing to answer: give --prompt TEXT, --prompt-file FILE or pipe text to stdin")
	}
	msg.Text, msg.Document = text, doc
	switch o.Think {
	case "off", "":
	case "on":
		msg.Think = prompt.ThinkOn
	case "fake":
		msg.Think = prompt.ThinkFake
	default:
		return msg, usageErrorf("--think must be off, on or fake")
	}
	return msg, nil
}

func runRun(ctx context.Context, o *runOptions, s *streams) error {
	msg, err := o.message(s)
	if err != nil {
		return err
	}
	l, err := o.gen.load()
	if err != nil {
		return err
	}
	defer l.m.Close()
	ctx, stop, stopped := withSignals(ctx)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sess, err := o.gen.newSession(l)
	if err != nil {
		return err
	}
	if o.VerbosePrompt {
		fmt.Fprintf(s.Err, "%s%s\n", sess.OpeningText(), sess.PromptText(msg))
	}
	w := bufio.NewWriter(s.Out)
	var out func(string)
	var werr error
	if !o.JSON {
		out = func(t string) {
			if werr != nil {
				return
			}
			if _, werr = w.WriteString(t); werr == nil {
				werr = w.Flush()
			}
			if werr != nil {
				cancel() // nobody gets the answer: stop generating it
			}
		}
	}
	text, err := sess.Reply(ctx, msg, out)
	if werr != nil {
		return quietPipe(werr) // the reply was cut: the session is not saved
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			w.Flush()
			if e := stopped(); e != nil {
				return e
			}
			return errInterrupted
		}
		return err
	}
	if err := o.gen.saveSession(sess); err != nil {
		return err
	}
	st := sess.LastStats()
	if o.JSON {
		b, _ := json.Marshal(runResult{Text: text, PromptTokens: st.PromptTokens, GeneratedTokens: st.GeneratedTokens,
			PrefillTokS: st.PrefillTokS(), DecodeTokS: st.DecodeTokS(), StopReason: st.StopReason, Template: l.tmpl.Name})
		fmt.Fprintf(w, "%s\n", b)
	} else if l.tmpl.EndOfReply != "" {
		fmt.Fprintln(w)
	}
	if err := w.Flush(); err != nil {
		return quietPipe(err)
	}
	return quietPipe(werr)
}

// quietPipe turns a write to a closed pipe (EPIPE) into a quiet success,
// as `rwkv-chat run … | head -c 20` expects. On Unix the binary itself
// never sees EPIPE on stdout: the Go runtime ends it with SIGPIPE at that
// write (status 141 in a shell, nothing on stderr), like any filter.
func quietPipe(err error) error {
	if err == nil || errors.Is(err, syscall.EPIPE) {
		return nil
	}
	return fmt.Errorf("writing output: %w", err)
}
