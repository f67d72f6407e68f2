package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/rwkv-chat/rwkv-chat/internal/eval"
	"github.com/rwkv-chat/rwkv-chat/internal/tokenizer"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func init() { commands = append(commands, newEvalCmd) }

// envData names the default LAMBADA data file.
const envData = "RWKV_CHAT_DATA"

type evalOptions struct {
	model     modelOptions
	Data      string
	Tokenizer string
	Limit     int
	JSON      bool
}

func newEvalCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval BENCHMARK",
		Short: "Run a zero-shot benchmark (lambada)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageErrorf("name a benchmark: rwkv-chat eval lambada --model FILE --data lambada_test.jsonl")
		},
	}
	cmd.AddCommand(newEvalLambadaCmd(s))
	return cmd
}

func newEvalLambadaCmd(s *streams) *cobra.Command {
	o := &evalOptions{}
	cmd := &cobra.Command{
		Use:   "lambada --model FILE [--data FILE] [--limit N] [--json]",
		Short: "LAMBADA last-word prediction: accuracy and perplexity",
		Long: `lambada follows RWKV-LM's RWKV-v7/rwkv_v7_demo.py. The data is a jsonl file, one
{"text": ...} per line (lambada_test.jsonl, 5153 lines). Each text is split at its
last space into a context and a target, ' ' + the last word. From a fresh state
the model is fed token 0 and the tokens of the context; then each token of the
target is scored: its log-probability (log-softmax of the logits at its
position) is added up, and the document is correct when every target token is
the argmax at its position.

  accuracy = correct documents / n
  ppl      = exp(−(Σ over documents of the summed target log-probabilities) / n)

The data file is --data, else $` + envData + `. A progress line is drawn on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runEvalLambada(o, s) },
	}
	o.model.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Data, "data", "", "LAMBADA jsonl file (default $"+envData+")")
	f.StringVar(&o.Tokenizer, "tokenizer", "", "world, neox, bytes or a vocab file (default: from the model)")
	f.IntVar(&o.Limit, "limit", 0, "evaluate only the first N documents (0: all)")
	f.BoolVar(&o.JSON, "json", false, "print one JSON object")
	return cmd
}

func runEvalLambada(o *evalOptions, s *streams) error {
	path := o.Data
	if path == "" {
		path = os.Getenv(envData)
	}
	if path == "" {
		return usageErrorf("no data given: use --data lambada_test.jsonl or set %s", envData)
	}
	if o.Limit < 0 {
		return usageErrorf("--limit must not be negative")
	}
	docs, err := eval.ReadLambadaFile(path, o.Limit)
	if err != nil {
		return err
	}
	if len(docs) == 0 {
		return fmt.Errorf("%s: no documents", path)
	}
	m, _, err := o.model.load()
	if err != nil {
		return err
	}
	defer m.Close()
	tok, err := tokenizer.Select(m.Cfg.Vocab, o.Tokenizer, o.model.Path)
	if err != nil {
		return err
	}
	prog := eval.NewProgress(s.Err, errTerminal(s), "lambada", "docs", int64(len(docs)))
	res, err := eval.Lambada(m, tok, docs, func(done int) { prog.Update(int64(done), "") })
	prog.Finish()
	if err != nil {
		return err
	}
	if o.JSON {
		b, _ := json.Marshal(res)
		_, err = fmt.Fprintf(s.Out, "%s\n", b)
		return err
	}
	_, err = fmt.Fprintf(s.Out, "lambada: n %d  accuracy %.2f%% (%d correct)  ppl %.2f  %.0f tokens/s\n",
		res.N, 100*res.Accuracy, res.Correct, res.PPL, res.TokensPerS)
	return err
}

// errTerminal reports whether the command's stderr is a terminal.
func errTerminal(s *streams) bool {
	f, ok := s.Err.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
