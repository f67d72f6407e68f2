package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

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
}

// perplexityResult is what `perplexity --json` prints.
type perplexityResult struct {
	Tokens int     `json:"tokens"`
	Scored int     `json:"scored"`
	NLL    float64 `json:"nll"`
	PPL    float64 `json:"ppl"`
}

func newPerplexityCmd(s *streams) *cobra.Command {
	o := &perplexityOptions{}
	cmd := &cobra.Command{
		Use:   "perplexity --model FILE --file TEXT",
		Short: "Score a text: mean negative log-likelihood and perplexity",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return runPerplexity(o, s) },
	}
	o.model.addFlags(cmd)
	f := cmd.Flags()
	f.StringVarP(&o.File, "file", "f", "", "text to score (- for stdin)")
	f.StringVar(&o.Tokenizer, "tokenizer", "", "world, neox, bytes or a vocab file (default: from the model)")
	f.BoolVar(&o.BOS, "bos", false, "prepend token 0 and score every token of the text")
	f.BoolVar(&o.JSON, "json", false, "print one JSON object")
	return cmd
}

func runPerplexity(o *perplexityOptions, s *streams) error {
	if o.File == "" {
		return usageErrorf("no text given: use --file FILE (or - for stdin)")
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
	var text []byte
	if o.File == "-" {
		text, err = io.ReadAll(s.In)
	} else {
		text, err = os.ReadFile(o.File)
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", o.File, err)
	}
	ids := tok.Encode(text)
	if o.BOS {
		ids = append([]int{0}, ids...)
	}
	res, err := scoreTokens(m, ids, o.BOS)
	if err != nil {
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

// scoreTokens feeds ids from the initial state in chunks and sums
// −log p(t_i | t_<i) for i ≥ 1. With bos, ids[0] is the prepended token 0
// and the count of text tokens excludes it.
func scoreTokens(m *model.Model, ids []int, bos bool) (perplexityResult, error) {
	res := perplexityResult{Tokens: len(ids)}
	if bos {
		res.Tokens--
	}
	if len(ids) < 2 {
		return res, fmt.Errorf("the text has %d tokens; at least 2 are needed to score one", len(ids))
	}
	V := m.Cfg.Vocab
	const chunk = 64
	logits := make([]float32, chunk*V)
	st := m.NewState()
	var nll float64
	for done := 0; done < len(ids)-1; {
		n := min(chunk, len(ids)-1-done)
		if err := m.ForwardAll(st, ids[done:done+n], logits); err != nil {
			return res, err
		}
		for t := 0; t < n; t++ {
			nll -= logProb(logits[t*V:(t+1)*V], ids[done+t+1])
		}
		done += n
	}
	res.Scored = len(ids) - 1
	res.NLL = nll / float64(res.Scored)
	res.PPL = math.Exp(res.NLL)
	return res, nil
}

// logProb is log softmax(logits)[id], computed in float64.
func logProb(logits []float32, id int) float64 {
	mx := float64(logits[0])
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v) - mx)
	}
	return float64(logits[id]) - mx - math.Log(sum)
}
