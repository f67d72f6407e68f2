package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/rwkv-chat/rwkv-chat/internal/eval"
	"github.com/rwkv-chat/rwkv-chat/internal/model"
	"github.com/rwkv-chat/rwkv-chat/internal/tokenizer"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newPerplexityCmd) }

type perplexityOptions struct {
	model     modelOptions
	File      string
	Tokenizer string
	BOS       bool
	JSON      bool
	Context   int
	ReadSize  int
}

// perplexityResult is what `perplexity --json` prints.
type perplexityResult = eval.PerplexityResult

func newPerplexityCmd(s *streams) *cobra.Command {
	o := &perplexityOptions{}
	cmd := &cobra.Command{
		Use:   "perplexity --model FILE --file TEXT [--context N]",
		Short: "Score a text: mean negative log-likelihood and perplexity",
		Long: `perplexity sums −log p(token | the tokens before it) over a text and prints the
mean (nll) and its exponential (ppl).

The text is read and tokenized 64 KiB at a time as it arrives, and scored as it
goes, so a text of any length (--file - reads a pipe) takes the same memory.
Chunk boundaries do not change the tokens: the bytes tokenizer cuts anywhere,
World keeps back the bytes a token starting near the end could still reach (up
to its longest token, 128 bytes), NeoX cuts before a space between words.

--context N scores in strided windows: window k holds tokens k·S … k·S+N−1
(S = N/2), each from a fresh state; the first window scores all its tokens but
the first, every later window only its last N−S tokens — those the previous
window did not reach — so each token is scored once with at least N−S tokens of
context (except in the first window). Without --context the whole text runs
through one state.

A progress line is drawn on stderr (redrawn in place on a terminal, a plain
line every 10 s otherwise).`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runPerplexity(o, s) },
	}
	o.model.addFlags(cmd)
	f := cmd.Flags()
	f.StringVarP(&o.File, "file", "f", "", "text to score (- for stdin)")
	f.StringVar(&o.Tokenizer, "tokenizer", "", "world, neox, bytes or a vocab file (default: from the model)")
	f.BoolVar(&o.BOS, "bos", false, "prepend token 0 and score every token of the text")
	f.BoolVar(&o.JSON, "json", false, "print one JSON object")
	f.IntVar(&o.Context, "context", 0, "strided evaluation in windows of N tokens, stride N/2 (0: one state for the whole text)")
	f.IntVar(&o.ReadSize, "read-size", 64<<10, "bytes read and tokenized at a time")
	_ = f.MarkHidden("read-size")
	return cmd
}

func runPerplexity(o *perplexityOptions, s *streams) error {
	if o.File == "" {
		return usageErrorf("no text given: use --file FILE (or - for stdin)")
	}
	if o.Context < 0 || o.Context == 1 {
		return usageErrorf("--context %d: want 0 (no windows) or at least 2", o.Context)
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
	var in io.Reader = s.In
	var total int64
	if o.File != "-" {
		f, err := os.Open(o.File)
		if err != nil {
			return fmt.Errorf("reading %s: %w", o.File, err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			total = st.Size()
		}
		in = f
	}
	sc, err := eval.NewPerplexity(m, o.Context)
	if err != nil {
		return usageError{err}
	}
	if o.BOS {
		if err := sc.Add([]int{0}); err != nil {
			return err
		}
	}
	prog := eval.NewProgress(s.Err, errTerminal(s), "perplexity", "MB", total)
	prog.Scale = 1e6
	tr := eval.NewTokenReader(in, tok, o.ReadSize)
	for {
		ids, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			prog.Finish()
			return fmt.Errorf("reading %s: %w", o.File, err)
		}
		if err := sc.Add(ids); err != nil {
			prog.Finish()
			return err
		}
		n, ppl := sc.Running()
		prog.Update(tr.BytesRead, fmt.Sprintf("%d tokens scored, ppl %.4g", n, ppl))
	}
	res, err := sc.Result()
	n, ppl := sc.Running()
	prog.Update(tr.BytesRead, fmt.Sprintf("%d tokens scored, ppl %.4g", n, ppl))
	prog.Finish()
	if o.BOS {
		res.Tokens--
	}
	if err != nil {
		if o.BOS {
			return fmt.Errorf("the text has no tokens to score")
		}
		return err
	}
	if o.JSON {
		b, _ := json.Marshal(res)
		_, err = fmt.Fprintf(s.Out, "%s\n", b)
		return err
	}
	_, err = fmt.Fprintf(s.Out, "tokens %d  scored %d  nll %.6f  ppl %.4f\n", res.Tokens, res.Scored, res.NLL, res.PPL)
	return err
}

// scoreTokens feeds ids from the initial state and sums −log p(t_i | t_<i)
// for i ≥ 1 (one state, no windows). With bos, ids[0] is the prepended
// token 0 and the count of text tokens excludes it.
func scoreTokens(m *model.Model, ids []int, bos bool) (perplexityResult, error) {
	sc, err := eval.NewPerplexity(m, 0)
	if err != nil {
		return perplexityResult{}, err
	}
	if err := sc.Add(ids); err != nil {
		return perplexityResult{}, err
	}
	res, err := sc.Result()
	if bos {
		res.Tokens--
	}
	return res, err
}

// logProb is log softmax(logits)[id], computed in float64.
func logProb(logits []float32, id int) float64 { return eval.LogProb(logits, id) }
