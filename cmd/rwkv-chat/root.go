package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitInterrupted = 130
	exitTerminated  = 143
)

// streams are the IO of one invocation, injected so commands are testable.
type streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
	// InTTY and OutTTY say whether In and Out are terminals.
	InTTY, OutTTY bool
}

func newStreams() *streams {
	return &streams{
		In: os.Stdin, Out: os.Stdout, Err: os.Stderr,
		InTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		OutTTY: term.IsTerminal(int(os.Stdout.Fd())),
	}
}

// usageError marks errors in how the command was called (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// errInterrupted ends a command stopped by the user (exit code 130).
var errInterrupted = errors.New("interrupted")

// errTerminated ends a command stopped by SIGTERM (exit code 143, the
// status a process killed by SIGTERM has, so it is the same in every phase).
var errTerminated = errors.New("terminated")

// withSignals cancels ctx on SIGINT or SIGTERM; stopped returns the error
// that says which one came (errInterrupted or errTerminated), or nil.
func withSignals(parent context.Context) (ctx context.Context, stop func(), stopped func() error) {
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	var got atomic.Value
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			got.Store(sig)
			cancel()
		case <-done:
		}
	}()
	stop = func() { signal.Stop(ch); close(done); cancel() }
	stopped = func() error {
		switch got.Load() {
		case nil:
			return nil
		case syscall.SIGTERM:
			return errTerminated
		}
		return errInterrupted
	}
	return ctx, stop, stopped
}

// commands lists the constructors of the subcommands; each command's file
// adds itself in an init function.
var commands []func(*streams) *cobra.Command

func newRootCmd(s *streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "rwkv-chat",
		Short:         "Run RWKV language models on the CPU",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	addGlobalFlags(root)
	for _, c := range commands {
		root.AddCommand(c(s))
	}
	// With no subcommand: chat on a terminal, help otherwise (issue 5).
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if s.InTTY && s.OutTTY {
			return defaultChat(cmd, args)
		}
		return cmd.Help()
	}
	return root
}

// execute runs the command line and maps the outcome to an exit code; errors
// are printed as one line on stderr.
func execute(args []string, s *streams) int {
	root := newRootCmd(s)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errInterrupted) {
		return exitInterrupted
	}
	if errors.Is(err, errTerminated) {
		return exitTerminated
	}
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintf(s.Err, "rwkv-chat: %s\n", msg)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return exitUsage
	}
	return exitError
}

// isCobraUsage recognises cobra's own argument errors.
func isCobraUsage(err error) bool {
	m := err.Error()
	return strings.HasPrefix(m, "unknown command") || strings.HasPrefix(m, "unknown flag") ||
		strings.HasPrefix(m, "accepts ") || strings.HasPrefix(m, "requires ") ||
		strings.Contains(m, "flag needs an argument") || strings.HasPrefix(m, "invalid argument")
}
