package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chzyer/readline"
	"github.com/rwkv-chat/rwkv-chat/internal/chat"
	"github.com/rwkv-chat/rwkv-chat/internal/prompt"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func init() { commands = append(commands, newChatCmd) }

type chatOptions struct {
	gen   genOptions
	Color string
	Think string
}

func newChatCmd(s *streams) *cobra.Command {
	o := &chatOptions{}
	cmd := &cobra.Command{
		Use:   "chat [--model FILE]",
		Short: "Chat with a model in the terminal (the default when stdin and stdout are terminals)",
		Long: `chat is an interactive conversation. The model's recurrent state is kept
between turns, so a turn only feeds its own text; /regen and /reset are
instant, and /save, /load and --session keep a conversation across runs.

Type a message and Enter to send it. A line that is exactly """ starts a
multi-line message and the next such line sends it; pasted text is one
message (bracketed paste). Tab completes the /commands:

` + prompt.HelpText() + `
Ctrl-C stops a reply and leaves the conversation as it was before it; at an
empty prompt, Ctrl-C twice leaves (exit status 130), as does Ctrl-D (status 0).
The history is kept in the user state dir (RWKV_CHAT_HOME, XDG_STATE_HOME or
~/.local/state/rwkv-chat); RWKV_CHAT_NOHISTORY=1 turns it off.

After each reply one line on stderr gives the prompt and generation speeds;
it is dim when --color allows (auto: stderr is a terminal and NO_COLOR is not
set).`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runChat(o, s) },
	}
	o.gen.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Color, "color", "auto", "dim status lines: auto, always or never (NO_COLOR turns auto off)")
	f.StringVar(&o.Think, "think", "off", "reasoning mode for G1 models: off, on, fake (also /think)")
	return cmd
}

// defaultChat runs `chat` for a bare `rwkv-chat` (root.RunE on a terminal).
func defaultChat(root *cobra.Command, args []string) error {
	c, _, err := root.Find([]string{"chat"})
	if err != nil || c == root || c.RunE == nil {
		return root.Help()
	}
	if err := applyEnv(c); err != nil {
		return err
	}
	return c.RunE(c, args)
}

// useColor decides whether status lines on w are dim. An explicit
// --color always wins over NO_COLOR, as no-color.org asks.
func useColor(mode string, w io.Writer) (bool, error) {
	switch mode {
	case "never":
		return false, nil
	case "always":
		return true, nil
	case "auto", "":
		if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
			return false, nil
		}
		f, ok := w.(*os.File)
		return ok && term.IsTerminal(int(f.Fd())), nil
	}
	return false, usageErrorf("--color must be auto, always or never, not %q", mode)
}

func parseThink(v string) (prompt.Think, error) {
	switch v {
	case "off", "":
		return prompt.ThinkOff, nil
	case "on":
		return prompt.ThinkOn, nil
	case "fake":
		return prompt.ThinkFake, nil
	}
	return 0, usageErrorf("--think must be off, on or fake")
}

func runChat(o *chatOptions, s *streams) error {
	color, err := useColor(o.Color, s.Err)
	if err != nil {
		return err
	}
	think, err := parseThink(o.Think)
	if err != nil {
		return err
	}
	l, err := o.gen.load()
	if err != nil {
		return err
	}
	defer l.m.Close()
	sess, err := o.gen.newSession(l)
	if err != nil {
		return err
	}
	ui := &chatUI{s: s, o: o, l: l, sess: sess, color: color, think: think, pastes: &pasteStore{}}
	return ui.run()
}

func (ui *chatUI) isQuitting() bool {
	ui.mu.Lock()
	defer ui.mu.Unlock()
	return ui.quitting
}

// chatUI is one interactive chat: the session, the line editor and what the
// commands have set.
type chatUI struct {
	s     *streams
	o     *chatOptions
	l     *loaded
	sess  *chat.Session
	color bool
	think prompt.Think

	rl          *readline.Instance
	interactive bool
	pastes      *pasteStore

	doc, docName string // /read: the document for the next question
	pending      string // input read ahead of the current message

	mu       sync.Mutex
	cancel   context.CancelFunc // of the reply being generated
	quitting bool               // SIGTERM or SIGHUP
}

func (ui *chatUI) run() error {
	if err := ui.openReadline(); err != nil {
		return err
	}
	defer ui.rl.Close()

	// Ctrl-C while a reply is generated (the terminal is not in raw mode
	// then) arrives as SIGINT: it cancels the reply. At the prompt readline
	// reads it as a key.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	// SIGTERM and SIGHUP end the chat, but not with the terminal left in
	// raw mode and bracketed paste on.
	quit := make(chan os.Signal, 1)
	signal.Notify(quit, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	defer func() { signal.Stop(sig); signal.Stop(quit); close(done) }()
	go func() {
		for {
			select {
			case q := <-quit:
				ui.mu.Lock()
				ui.quitting = true
				if ui.cancel != nil {
					ui.cancel()
				}
				ui.mu.Unlock()
				ui.rl.Close() // restores the terminal; the loop sees EOF
				time.Sleep(2 * time.Second)
				os.Exit(128 + int(q.(syscall.Signal)))
			case <-sig:
				ui.mu.Lock()
				if ui.cancel != nil {
					ui.cancel()
				} else if !ui.interactive {
					// Not at an editing prompt (stdin or stdout is not a
					// terminal): Ctrl-C leaves, as in any line-reading tool.
					// Every finished turn is already saved.
					os.Exit(exitInterrupted)
				}
				ui.mu.Unlock()
			case <-done:
				return
			}
		}
	}()

	t := ui.sess.Template()
	ui.status("%s, template %s; /help for commands, Ctrl-D to leave", describeModel(ui.o.gen.model.Path, ui.l), t.Name)
	if n := len(ui.sess.Transcript); n > 0 {
		ui.status("resumed %s: %s", ui.o.gen.sessionPath(), plural(n, "turn"))
	}

	interrupts := 0
	for {
		if ui.isQuitting() {
			return errInterrupted
		}
		text, multi, err := ui.readMessage()
		if ui.isQuitting() {
			return errInterrupted
		}
		if errors.Is(err, readline.ErrInterrupt) {
			if text != "" { // Ctrl-C on a typed line drops the line
				interrupts = 0
				continue
			}
			interrupts++
			if interrupts >= 2 {
				return errInterrupted
			}
			ui.notice("(Ctrl-C again, Ctrl-D or /bye to leave)")
			continue
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		interrupts = 0
		if strings.TrimSpace(text) == "" {
			continue
		}
		if h := historyLine(text); h != "" && ui.rl != nil {
			_ = ui.rl.SaveHistory(h)
		}
		if !multi && prompt.IsCommand(text) {
			bye, err := ui.command(text)
			if err != nil {
				return err
			}
			if bye {
				return nil
			}
			continue
		}
		if err := ui.send(text); err != nil {
			return err
		}
	}
}

func describeModel(path string, l *loaded) string {
	c := l.m.Cfg
	return fmt.Sprintf("%s (RWKV-%s, %d layers × %d, %s tokenizer)", filepath.Base(path), c.Version, c.Layers, c.Embd, l.tok.Name())
}

func (ui *chatUI) openReadline() error {
	s := ui.s
	ui.interactive = s.InTTY && s.OutTTY
	in := s.In
	if in == nil {
		in = strings.NewReader("")
	}
	cfg := &readline.Config{
		Prompt:                 ">>> ",
		DisableAutoSaveHistory: true,
		HistorySearchFold:      true,
		AutoComplete:           chatCompleter(),
		InterruptPrompt:        "^C",
		EOFPrompt:              "\n",
		Stdin:                  readline.NewCancelableStdin(newPasteReader(in, ui.pastes, ui.interactive)),
		Stdout:                 s.Out,
		Stderr:                 s.Err,
		FuncIsTerminal:         func() bool { return ui.interactive },
	}
	if os.Getenv("RWKV_CHAT_NOHISTORY") == "" {
		dir := stateDir()
		if err := os.MkdirAll(dir, 0o700); err == nil {
			// Created private before readline opens it (it would use 0666).
			path := filepath.Join(dir, "history")
			if f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err == nil {
				f.Close()
				cfg.HistoryFile = path
			}
		}
	}
	noop := func() error { return nil }
	cfg.FuncGetWidth = func() int {
		if w := readline.GetScreenWidth(); w > 0 {
			return w
		}
		return 80 // a terminal that reports no size: completion still works
	}
	if f, ok := in.(*os.File); ok && ui.interactive {
		fd := int(f.Fd())
		var saved *readline.State
		cfg.FuncMakeRaw = func() error {
			st, err := readline.MakeRaw(fd)
			if err == nil {
				saved = st
			}
			return err
		}
		cfg.FuncExitRaw = func() error {
			if saved == nil {
				return nil
			}
			st := saved
			saved = nil
			return readline.Restore(fd, st)
		}
	} else {
		// Never touch the real terminal's mode for a stream that is not it.
		cfg.FuncMakeRaw, cfg.FuncExitRaw = noop, noop
		cfg.FuncGetWidth = func() int { return 80 }
		cfg.FuncOnWidthChanged = func(func()) {}
	}
	rl, err := readline.NewEx(cfg)
	if err != nil {
		return err
	}
	ui.rl = rl
	return nil
}

// chatCompleter completes the /commands and their arguments.
func chatCompleter() readline.AutoCompleter {
	var items []readline.PrefixCompleterInterface
	for _, name := range prompt.CommandNames() {
		var sub []readline.PrefixCompleterInterface
		switch name {
		case "/set":
			for _, k := range prompt.SetKeys() {
				sub = append(sub, readline.PcItem(k))
			}
		case "/think":
			sub = []readline.PrefixCompleterInterface{readline.PcItem("on"), readline.PcItem("off"), readline.PcItem("fake")}
		case "/save", "/load":
			sub = []readline.PrefixCompleterInterface{readline.PcItemDynamic(func(string) []string { return savedSessions() })}
		case "/read":
			sub = []readline.PrefixCompleterInterface{readline.PcItemDynamic(func(string) []string { return filesHere() })}
		}
		items = append(items, readline.PcItem(name, sub...))
	}
	return readline.NewPrefixCompleter(items...)
}

// savedSessions lists the session names in the state dir.
func savedSessions() []string {
	ents, _ := os.ReadDir(filepath.Join(stateDir(), "sessions"))
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".rwkvsession"); ok && !e.IsDir() && !strings.HasPrefix(n, ".") {
			names = append(names, n)
		}
	}
	return names
}

// filesHere lists the regular files of the working directory.
func filesHere() []string {
	ents, _ := os.ReadDir(".")
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") && !strings.ContainsAny(e.Name(), " \t") {
			names = append(names, e.Name())
		}
	}
	return names
}

// readLine reads one edited line with bracketed paste on while editing; the
// line comes back with pasted newlines and tabs restored, so it may hold
// several lines. Lines queued by readMessage come first.
func (ui *chatUI) readLine(p string) (string, error) {
	if ui.pending != "" {
		line := ui.pending
		ui.pending = ""
		return line, nil
	}
	ui.rl.SetPrompt(p)
	if ui.interactive {
		io.WriteString(ui.s.Out, pasteModeOn)
		defer io.WriteString(ui.s.Out, pasteModeOff)
	}
	line, err := ui.rl.Readline()
	return ui.pastes.expand(line), err
}

// readMessage reads one message: a line, or a `"""` block (multi is true
// then, and the text is never a command). A line that starts with `"""`
// opens a block and a line that ends with `"""` closes it; a line that is
// exactly `"""` does either. Text after the closing line, when it came in
// the same input (typed ahead or pasted), is kept for the next message.
func (ui *chatUI) readMessage() (text string, multi bool, err error) {
	in, err := ui.readLine(">>> ")
	if err != nil {
		return in, false, err
	}
	rest, ok := strings.CutPrefix(strings.TrimLeft(in, " \t"), `"""`)
	if !ok {
		return in, strings.Contains(in, "\n"), nil
	}
	var lines []string
	first := true
	for {
		phys := strings.Split(rest, "\n")
		for i, line := range phys {
			body, closed := strings.CutSuffix(strings.TrimRight(line, " \t"), `"""`)
			if first && i == 0 {
				closed = closed && strings.TrimSpace(line) != "" // the opening `"""` itself
			}
			if closed {
				if body != "" {
					lines = append(lines, body)
				}
				ui.pending = strings.Join(phys[i+1:], "\n")
				return strings.Join(lines, "\n"), true, nil
			}
			if !(first && i == 0 && strings.TrimSpace(line) == "") {
				lines = append(lines, line)
			}
		}
		first = false
		rest, err = ui.readLine("... ")
		if err != nil {
			return "", true, err // Ctrl-C drops the block, Ctrl-D leaves
		}
	}
}

// status prints a line on stderr, dim when color is on.
func (ui *chatUI) status(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if ui.color {
		msg = "\x1b[2m" + msg + "\x1b[0m"
	}
	fmt.Fprintln(ui.s.Err, msg)
}

// notice prints a plain line on stderr.
func (ui *chatUI) notice(format string, a ...any) {
	fmt.Fprintf(ui.s.Err, format+"\n", a...)
}

// send answers a message.
func (ui *chatUI) send(text string) error {
	msg := prompt.Message{Text: text, Document: ui.doc, Think: ui.think}
	doc, docName := ui.doc, ui.docName
	ui.doc, ui.docName = "", ""
	ok, err := ui.generate(func(ctx context.Context, out func(string)) (string, error) {
		return ui.sess.Reply(ctx, msg, out)
	})
	if !ok {
		ui.doc, ui.docName = doc, docName // still there for the next try
	}
	return err
}

// generate runs one reply with Ctrl-C armed, streams it to stdout, and
// prints the status line. ok is false when the reply did not complete; err
// is set only for errors that end the chat.
func (ui *chatUI) generate(f func(context.Context, func(string)) (string, error)) (ok bool, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ui.mu.Lock()
	ui.cancel = cancel
	ui.mu.Unlock()
	defer func() {
		ui.mu.Lock()
		ui.cancel = nil
		ui.mu.Unlock()
	}()

	var werr error
	wrote, last := false, byte('\n')
	out := func(t string) {
		if werr != nil || t == "" {
			return
		}
		if _, werr = io.WriteString(ui.s.Out, t); werr != nil {
			cancel()
			return
		}
		wrote, last = true, t[len(t)-1]
	}
	_, rerr := f(ctx, out)
	if wrote && last != '\n' && werr == nil {
		io.WriteString(ui.s.Out, "\n")
	}
	if werr != nil {
		return false, quietPipe(werr)
	}
	if rerr != nil {
		if errors.Is(rerr, context.Canceled) {
			ui.notice("[stopped: the conversation is as it was before this reply]")
			return false, nil
		}
		ui.notice("error: %v", rerr)
		return false, nil
	}
	st := ui.sess.LastStats()
	ui.status("prompt %d tok, %.0f tok/s · reply %d tok, %.1f tok/s · %s",
		st.PromptTokens, st.PrefillTokS(), st.GeneratedTokens, st.DecodeTokS(), stopText(st.StopReason))
	ui.saveSession()
	return true, nil
}

func stopText(reason string) string {
	switch reason {
	case "end":
		return "end of turn"
	case "eos":
		return "end of text"
	case "stop":
		return "stop string"
	case "length":
		return "max tokens"
	}
	return reason
}

// saveSession writes --session after a change, reporting failures.
func (ui *chatUI) saveSession() {
	if err := ui.o.gen.saveSession(ui.sess); err != nil {
		ui.notice("error: %v", err)
	}
}

// command runs a /command; bye is true for /bye. Errors in the command are
// reported and the chat goes on; err ends the chat.
func (ui *chatUI) command(line string) (bye bool, err error) {
	c, perr := prompt.ParseCommand(line)
	if perr != nil {
		ui.notice("%v", perr)
		return false, nil
	}
	sess := ui.sess
	switch c.Name {
	case "help":
		fmt.Fprint(ui.s.Out, prompt.HelpText())
		w := 0
		for _, c := range prompt.Commands() {
			w = max(w, len(c.Usage))
		}
		fmt.Fprintf(ui.s.Out, "  %-*s  %s\n", w, "Ctrl-C", "stop a reply (the conversation stays as it was before it)")
		fmt.Fprintf(ui.s.Out, "  %-*s  %s\n", w, "Ctrl-D", "leave")
	case "bye":
		return true, nil
	case "reset":
		sess.Reset()
		ui.doc, ui.docName = "", ""
		ui.notice("conversation reset")
		ui.saveSession()
	case "regen":
		if len(sess.Transcript) == 0 {
			ui.notice("nothing to regenerate yet")
			return false, nil
		}
		_, err := ui.generate(func(ctx context.Context, out func(string)) (string, error) {
			return sess.Regenerate(ctx, out)
		})
		return false, err
	case "system":
		if err := sess.SetSystem(c.Arg); err != nil {
			ui.notice("error: %v", err)
			return false, nil
		}
		if c.Arg == "" {
			ui.notice("system prompt removed; conversation restarted")
		} else {
			ui.notice("system prompt set; conversation restarted")
		}
		ui.saveSession()
	case "set":
		st := sess.Settings()
		switch c.Key {
		case "temp":
			st.Temperature = c.Value
		case "top_p":
			st.TopP = c.Value
		case "top_k":
			st.TopK = int(c.Value)
		case "presence":
			st.Presence = c.Value
		case "frequency":
			st.Frequency = c.Value
		case "max_tokens":
			st.MaxTokens = int(c.Value)
		}
		sess.SetSettings(st)
		ui.notice("%s = %s", c.Key, strconv.FormatFloat(c.Value, 'g', -1, 64))
		ui.saveSession()
	case "think":
		think, _ := parseThink(c.Arg)
		ui.think = think
		if !sess.Template().SupportsThink {
			ui.notice("think %s (note: template %s ignores it; G1 models use g1)", c.Arg, sess.Template().Name)
		} else {
			ui.notice("think %s", c.Arg)
		}
	case "read":
		b, err := os.ReadFile(c.Arg)
		if err != nil {
			ui.notice("error: %v", err)
			return false, nil
		}
		ui.doc, ui.docName = string(b), c.Arg
		ui.notice("read %s (%s); it goes with your next message, after the question", c.Arg, formatBytes(int64(len(b))))
	case "save":
		path := sessionFile(c.Arg)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			ui.notice("error: %v", err)
			return false, nil
		}
		if err := sess.Save(path); err != nil {
			ui.notice("error: %v", err)
			return false, nil
		}
		ui.notice("saved %s", path)
	case "load":
		path := sessionFile(c.Arg)
		data, err := os.ReadFile(path)
		if err != nil {
			ui.notice("error: %v", err)
			return false, nil
		}
		if name := chat.TemplateName(data); name != "" && name != sess.Template().Name {
			ui.notice("error: %s was saved with template %s, this chat uses %s (start with --template %s)",
				path, name, sess.Template().Name, name)
			return false, nil
		}
		if err := sess.UnmarshalBinary(data); err != nil {
			ui.notice("error: %s: %v", path, err)
			return false, nil
		}
		ui.doc, ui.docName = "", ""
		ui.notice("loaded %s: %s", path, plural(len(sess.Transcript), "turn"))
		ui.saveSession()
	case "stats":
		ui.printStats()
	default:
		ui.notice("/%s is not available here", c.Name)
	}
	return false, nil
}

func (ui *chatUI) printStats() {
	sess := ui.sess
	w := ui.s.Out
	st := sess.LastStats()
	if st.PromptTokens+st.GeneratedTokens > 0 {
		fmt.Fprintf(w, "last reply    prompt %d tokens in %s (%.0f tok/s), reply %d tokens in %s (%.1f tok/s), %s\n",
			st.PromptTokens, st.Prefill.Round(1e5), st.PrefillTokS(), st.GeneratedTokens, st.Decode.Round(1e5), st.DecodeTokS(), stopText(st.StopReason))
	} else {
		fmt.Fprintln(w, "last reply    none yet")
	}
	fmt.Fprintf(w, "conversation  %s, %d tokens fed so far\n", plural(len(sess.Transcript), "turn"), sess.Fed)
	fmt.Fprintf(w, "state         %s (the whole conversation so far)\n", formatBytes(int64(len(sess.State().Data))*4))
	set := sess.Settings()
	fmt.Fprintf(w, "settings      temp %g, top_p %g, top_k %d, presence %g, frequency %g, max_tokens %d\n",
		set.Temperature, set.TopP, set.TopK, set.Presence, set.Frequency, set.MaxTokens)
	think := map[prompt.Think]string{prompt.ThinkOff: "off", prompt.ThinkOn: "on", prompt.ThinkFake: "fake"}[ui.think]
	fmt.Fprintf(w, "template      %s, think %s\n", sess.Template().Name, think)
	if ui.docName != "" {
		fmt.Fprintf(w, "document      %s for the next message\n", ui.docName)
	}
	if names := savedSessions(); len(names) > 0 {
		sort.Strings(names)
		fmt.Fprintf(w, "saved         %s\n", strings.Join(names, ", "))
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
