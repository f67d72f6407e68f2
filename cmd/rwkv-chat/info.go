package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/rwkv-chat/rwkv-chat/internal/kernels"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newInfoCmd) }

type infoOptions struct {
	model modelOptions
	JSON  bool
}

// modelInfo is what `info --json` prints.
type modelInfo struct {
	File       string         `json:"file"`
	Format     string         `json:"format"`
	Version    string         `json:"version"`
	Layers     int            `json:"layers"`
	Embd       int            `json:"n_embd"`
	Att        int            `json:"n_att"`
	Heads      int            `json:"heads"`
	HeadSize   int            `json:"head_size"`
	FFN        int            `json:"ffn"`
	Vocab      int            `json:"vocab"`
	DTypes     map[string]int `json:"dtypes"`
	Params     int64          `json:"params"`
	FileBytes  int64          `json:"file_bytes"`
	Weights    int64          `json:"weight_bytes_per_token"`
	StateBytes int            `json:"state_bytes"`
	Kernels    string         `json:"kernels"`
	KernelsWhy string         `json:"kernels_why"`
	Available  []string       `json:"kernel_sets"`
	Threads    int            `json:"threads"`
	CPU        string         `json:"cpu"`
}

func newInfoCmd(s *streams) *cobra.Command {
	o := &infoOptions{}
	cmd := &cobra.Command{
		Use:   "info [--model FILE]",
		Short: "Show a model's architecture and the kernel set in use",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return runInfo(o, s) },
	}
	o.model.addFlags(cmd)
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print one JSON object")
	return cmd
}

func runInfo(o *infoOptions, s *streams) error {
	im := kernels.Active()
	info := modelInfo{Kernels: im.Name, KernelsWhy: im.Why, Available: kernels.Names(),
		Threads: kernels.Default().Threads(), CPU: kernels.CPUName()}
	if o.model.Path != "" {
		m, _, err := o.model.load()
		if err != nil {
			return err
		}
		defer m.Close()
		c := m.Cfg
		info.File, info.Format, info.Version = o.model.Path, m.Format, c.Version
		info.Layers, info.Embd, info.Att, info.Heads, info.HeadSize, info.FFN, info.Vocab = c.Layers, c.Embd, c.Att, c.Heads, c.HeadSize, c.FFN, c.Vocab
		info.DTypes = map[string]int{}
		for dt, n := range m.DTypes() {
			info.DTypes[dt.String()] = n
		}
		info.Params, info.Weights, info.StateBytes = m.Params(), m.WeightBytes(), 4*c.StateFloats()
		if st, err := os.Stat(o.model.Path); err == nil {
			info.FileBytes = st.Size()
		}
	}
	if o.JSON {
		b, _ := json.Marshal(info)
		_, err := fmt.Fprintf(s.Out, "%s\n", b)
		return err
	}
	w := s.Out
	if info.Format != "" {
		var types []string
		for dt, n := range info.DTypes {
			types = append(types, fmt.Sprintf("%s×%d", dt, n))
		}
		sort.Strings(types)
		fmt.Fprintf(w, "file        %s (%s, %s)\n", info.File, info.Format, formatBytes(info.FileBytes))
		fmt.Fprintf(w, "version     RWKV-%s\n", info.Version)
		fmt.Fprintf(w, "layers      %d\n", info.Layers)
		fmt.Fprintf(w, "n_embd      %d\n", info.Embd)
		if info.Heads > 0 {
			fmt.Fprintf(w, "heads       %d × %d\n", info.Heads, info.HeadSize)
		}
		fmt.Fprintf(w, "ffn         %d\n", info.FFN)
		fmt.Fprintf(w, "vocab       %d\n", info.Vocab)
		fmt.Fprintf(w, "matrices    %s\n", strings.Join(types, " "))
		fmt.Fprintf(w, "params      %.2fM\n", float64(info.Params)/1e6)
		fmt.Fprintf(w, "per token   %s of weights read\n", formatBytes(info.Weights))
		fmt.Fprintf(w, "state       %s per session\n", formatBytes(int64(info.StateBytes)))
	}
	fmt.Fprintf(w, "kernels     %s (%s); available: %s\n", info.Kernels, info.KernelsWhy, strings.Join(info.Available, ", "))
	fmt.Fprintf(w, "threads     %d\n", info.Threads)
	fmt.Fprintf(w, "cpu         %s\n", info.CPU)
	return nil
}
