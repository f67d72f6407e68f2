package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rwkv-chat/rwkv-chat/internal/kernels"
	"github.com/rwkv-chat/rwkv-chat/internal/model"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
		if v, ok := os.LookupEnv(name); ok {
			if e := f.Value.Set(v); e != nil {
				err = usageErrorf("%s=%q: %v", name, v, e)
			}
		}
	}
	cmd.Flags().VisitAll(visit)
	cmd.InheritedFlags().VisitAll(visit)
	return err
}

// modelOptions are the flags of commands that load a model.
type modelOptions struct {
	Path string
}

func (o *modelOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.Path, "model", "m", "", "model file (.pth, .safetensors, rwkv.cpp .bin, .gguf)")
}

// load opens the model and reports how long it took.
func (o *modelOptions) load() (*model.Model, time.Duration, error) {
	if o.Path == "" {
		return nil, 0, usageErrorf("no model given: use --model FILE")
	}
	start := time.Now()
	m, err := model.Open(o.Path, model.Options{})
	if err != nil {
		return nil, 0, err
	}
	return m, time.Since(start), nil
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
