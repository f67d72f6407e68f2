package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/rwkv-chat/rwkv-chat/internal/hub"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func init() { commands = append(commands, newPullCmd) }

func newPullCmd(s *streams) *cobra.Command {
	var opts hub.Options
	cmd := &cobra.Command{
		Use:   "pull [NAME|hf.co/OWNER/REPO/FILE|URL]",
		Short: "Download a model and its tokenizer into the cache",
		Long: fmt.Sprintf(`Download a model into the cache (%s, or $%s).

NAME is a model of the catalogue (see "rwkv-chat models"; default %s),
which brings the tokenizer it needs; hf.co/OWNER/REPO/FILE fetches a file of
a Hugging Face repository ($%s and $%s are honoured), and an https URL
any file. Downloads resume where they stopped, and a file is kept only once
its size and SHA-256 are verified. The path of the file is printed on stdout.`,
			pullCacheDirHint(), hub.EnvHome, hub.DefaultModel().Name, hub.EnvEndpoint, hub.EnvToken),
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := ""
			if len(args) == 1 {
				ref = args[0]
			}
			ctx, stop, stopped := withSignals(cmd.Context())
			defer stop()
			o := opts
			o.Progress = s.Err
			o.IsTTY, o.Width = pullTerminal(s.Err)
			path, err := hub.Pull(ctx, ref, o)
			if err != nil {
				if ctx.Err() != nil && errors.Is(err, context.Canceled) {
					fmt.Fprintf(s.Err, "rwkv-chat: %v\n", err)
					if e := stopped(); e != nil {
						return e
					}
					return errInterrupted
				}
				return err
			}
			fmt.Fprintln(s.Out, path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.Offline, "offline", false, "never touch the network: print the cached path or say which command fetches it")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "download again a file already cached (it is replaced only by a verified download)")
	return cmd
}

// pullTerminal reports whether w is a terminal, and its width.
func pullTerminal(w io.Writer) (bool, int) {
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

// pullCacheDirHint is the cache directory for help texts.
func pullCacheDirHint() string {
	if d, err := hub.Dir(); err == nil {
		return d
	}
	return "the user cache directory's rwkv-chat"
}
