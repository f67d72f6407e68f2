package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rwkv-chat/rwkv-chat/internal/hub"
	"github.com/rwkv-chat/rwkv-chat/internal/kernels"
	"github.com/rwkv-chat/rwkv-chat/internal/model"
	"github.com/rwkv-chat/rwkv-chat/internal/progress"
	"github.com/rwkv-chat/rwkv-chat/internal/tokenizer"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// globalOptions are the flags every command shares.
type globalOptions struct {
	Threads int
	Kernels string
}

var globals globalOptions

func addGlobalFlags(root *cobra.Command) {
	pf := root.PersistentFlags()
	pf.IntVar(&globals.Threads, "threads", 0, "worker threads (default: the number of physical cores)")
	pf.StringVar(&globals.Kernels, "kernels", "auto", "kernel set: auto, generic, or one listed by `rwkv-chat info`")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := applyEnv(cmd); err != nil {
			return err
		}
		if globals.Kernels != "auto" {
			if err := kernels.Use(globals.Kernels); err != nil {
				return usageError{err}
			}
			kernels.Active().Why = "forced by --kernels " + globals.Kernels
		}
		if globals.Threads != 0 {
			if globals.Threads < 0 {
				return usageErrorf("--threads must be positive")
			}
			kernels.SetThreads(globals.Threads)
		}
		return nil
	}
}

// applyEnv fills every flag the user did not set from RWKV_CHAT_<FLAG>
// (upper case, dashes as underscores), so that any flag can come from the
// environment.
func applyEnv(cmd *cobra.Command) error {
	var err error
	visit := func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		name := "RWKV_CHAT_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok && v != "" {
			if e := f.Value.Set(v); e != nil {
				err = usageErrorf("%s=%q: %v", name, v, e)
			}
			f.Changed = true // a value from the environment counts as given
		}
	}
	cmd.Flags().VisitAll(visit)
	cmd.InheritedFlags().VisitAll(visit)
	return err
}

// modelOptions are the flags of commands that load a model.
type modelOptions struct {
	Path string
	Pull bool

	cmd *cobra.Command // whose stderr shows the loading's progress
}

func (o *modelOptions) addFlags(cmd *cobra.Command) {
	o.cmd = cmd
	cmd.Flags().StringVarP(&o.Path, "model", "m", "", "model file (.pth, .safetensors, rwkv.cpp .bin, .gguf) or a cached catalogue name (default: "+hub.DefaultModel().Name+")")
	cmd.Flags().BoolVar(&o.Pull, "pull", false, "download the model (and its tokenizer) first when it is not cached")
}

// resolve turns --model into a file: a path as given, else a catalogue name
// or hub reference found in the cache; no --model means the default model.
// A model that is not cached is fetched with --pull, else the error names
// the exact command that fetches it.
func (o *modelOptions) resolve() error {
	if o.Path != "" && !isHubRef(o.Path) {
		return nil // a file: the loader says what is wrong with it, if anything
	}
	p, err := hub.Resolve(o.Path)
	if err == nil {
		o.Path = p
		return nil
	}
	if !errors.Is(err, hub.ErrNotCached) || !o.Pull {
		var nc *hub.NotCachedError
		if o.Path == "" && errors.As(err, &nc) {
			return fmt.Errorf("no --model given and the default model %s is not downloaded yet; fetch it with: %s (or add --pull)", nc.Ref, nc.Command())
		}
		return err
	}
	p, err = hub.Pull(context.Background(), o.Path, hub.Options{Progress: os.Stderr, IsTTY: term.IsTerminal(int(os.Stderr.Fd())), Offline: hub.OfflineFromEnv()})
	if err != nil {
		return err
	}
	o.Path = p
	return nil
}

// isHubRef reports whether --model names a catalogue entry or a hub
// reference rather than an existing file.
func isHubRef(ref string) bool {
	if _, err := os.Stat(ref); err == nil {
		return false
	}
	if strings.HasPrefix(ref, "hf.co/") || strings.HasPrefix(ref, "huggingface.co/") || strings.Contains(ref, "://") {
		return true
	}
	for _, e := range hub.Current().Models {
		if ref == e.Name || ref == e.File {
			return true
		}
	}
	return false
}

// load opens the model and reports how long it took. A load that takes
// more than loadProgressDelay shows its progress on the command's stderr.
func (o *modelOptions) load() (*model.Model, time.Duration, error) {
	if err := o.resolve(); err != nil {
		return nil, 0, err
	}
	var errOut io.Writer = os.Stderr
	if o.cmd != nil {
		errOut = o.cmd.ErrOrStderr()
	}
	start := time.Now()
	m, err := openWithProgress(o.Path, errOut)
	if err != nil {
		return nil, 0, err
	}
	return m, time.Since(start), nil
}

// loadProgressDelay is how long loading a model runs before its progress
// is shown: loads that end sooner print nothing.
const loadProgressDelay = time.Second

// loadClock is the clock of the loading progress (tests stop or speed it).
var loadClock = time.Now

// openWithProgress opens a model file, showing the progress of loading it
// on w (stderr; never stdout) once it has taken loadProgressDelay: a bar
// redrawn in place and blanked out at the end on a terminal, else a line
// every few seconds and a summary. A ticker keeps the display going through
// steps that report nothing (parsing a file whose headers are spread over
// it, when it is not in the page cache).
func openWithProgress(path string, w io.Writer) (*model.Model, error) {
	bar := newLoadBar(w, filepath.Base(path), loadClock)
	stop := bar.TickEvery(progress.TTYPeriod)
	m, err := model.Open(path, model.Options{Progress: func(done, total int64) { bar.Set(done, total) }})
	stop()
	bar.Clear()
	return m, err
}

// newLoadBar starts the progress display of loading the model file name
// on w; now is the clock (nil: time.Now).
func newLoadBar(w io.Writer, name string, now func() time.Time) *progress.Bar {
	tty, width := terminalWidth(w)
	bar := progress.New(w, tty, width, now)
	bar.Delay = loadProgressDelay
	bar.Start("Loading "+name, 0, 0)
	return bar
}

// terminalWidth reports whether w is a terminal, and its width (0 when
// unknown).
func terminalWidth(w io.Writer) (tty bool, width int) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false, 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		width = 0
	}
	return true, width
}

// formatBytes prints a size with a binary unit.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// selectTokenizer picks the tokenizer for a loaded model: --tokenizer when
// given, else the vocabulary stored in a GGUF file, else the one its
// vocabulary size needs (tokenizer.Select).
func selectTokenizer(m *model.Model, override, path string) (tokenizer.Tokenizer, error) {
	if override == "" && m.File() != nil {
		toks, err := m.File().WorldTokens()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if toks != nil {
			w, err := tokenizer.NewWorldFromTokens(toks)
			if err != nil {
				return nil, fmt.Errorf("%s: tokenizer stored in the file: %w", path, err)
			}
			return w, nil
		}
	}
	return tokenizer.Select(m.Cfg.Vocab, override, path)
}
