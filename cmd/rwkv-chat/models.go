package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/rwkv-chat/rwkv-chat/internal/hub"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newModelsCmd) }

func newModelsCmd(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "models",
		Short: "List the cached models and the catalogue",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return runModels(s)
		},
	}
}

func runModels(s *streams) error {
	dir, err := hub.Dir()
	if err != nil {
		return err
	}
	files, err := hub.Cached()
	if err != nil {
		return err
	}
	cat := hub.Current()
	def := hub.DefaultModel()
	// cached marks the catalogue files present with their right size.
	cached := map[string]bool{}

	w := tabwriter.NewWriter(s.Out, 0, 0, 2, ' ', 0)
	if len(files) == 0 {
		fmt.Fprintf(w, "No files in the cache %s.\n", dir)
	} else {
		fmt.Fprintf(w, "Cached in %s:\n", dir)
		for _, f := range files {
			what := ""
			switch e := f.Entry; {
			case f.Partial && e != nil:
				what = fmt.Sprintf("unfinished download of %s: rwkv-chat pull %s resumes it", e.Name, e.Name)
			case f.Partial:
				what = "unfinished download: pull it again to resume"
			case e == nil:
				what = "-"
			case f.Size != e.Size:
				what = fmt.Sprintf("%s, but %s expected: rwkv-chat pull %s fetches it again", e.Name, hub.FormatSize(e.Size), e.Name)
			case !e.IsModel():
				what = "tokenizer " + e.Name
				cached[e.File] = true
			default:
				what = e.Name
				if e.Name == def.Name {
					what += " (default)"
				}
				cached[e.File] = true
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\n", f.Name, hub.FormatSize(f.Size), what)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(s.Out, "\nCatalogue (* = cached):\n")
	w = tabwriter.NewWriter(s.Out, 0, 0, 2, ' ', 0)
	for _, e := range cat.Models {
		mark := " "
		if cached[e.File] {
			mark = "*"
		}
		desc := e.Description
		if e.Name == def.Name {
			desc += " (default)"
		}
		fmt.Fprintf(w, "%s %s\t%s\t%s\n", mark, e.Name, hub.FormatSize(e.Size), desc)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "\nDownload one with: rwkv-chat pull NAME (or hf.co/OWNER/REPO/FILE)\n")
	return nil
}
