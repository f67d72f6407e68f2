// Package eval implements the evaluations of rwkv-chat: the LAMBADA
// protocol of RWKV-LM (RWKV-v7/rwkv_v7_demo.py), and perplexity over a
// text stream of any length in constant memory, optionally in strided
// windows.
package eval

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/rwkv-chat/rwkv-chat/internal/model"
	"github.com/rwkv-chat/rwkv-chat/internal/tokenizer"
)

// Doc is one LAMBADA example: the text split at its last space.
type Doc struct {
	Context string // the text before the last space
	Target  string // " " + the last word
}

// SplitLambada splits text as Python's text.rsplit(' ', 1) does in
// rwkv_v7_demo.py: context is everything before the last space (U+0020),
// target is a space followed by everything after it. ok is false when the
// text holds no space (the reference script would fail on such a line).
func SplitLambada(text string) (d Doc, ok bool) {
	i := strings.LastIndexByte(text, ' ')
	if i < 0 {
		return Doc{}, false
	}
	return Doc{Context: text[:i], Target: " " + text[i+1:]}, true
}

// ReadLambada reads a LAMBADA jsonl stream, one {"text": ...} object per
// line, and returns at most limit documents (limit ≤ 0: all). Blank lines
// are skipped; a line that is not such an object, or whose text has no
// space, is an error naming the line.
func ReadLambada(r io.Reader, limit int) ([]Doc, error) {
	var docs []Doc
	br := bufio.NewReaderSize(r, 1<<16)
	for line := 1; limit <= 0 || len(docs) < limit; line++ {
		b, err := br.ReadBytes('\n')
		if len(strings.TrimSpace(string(b))) > 0 {
			var v struct {
				Text *string `json:"text"`
			}
			if e := json.Unmarshal(b, &v); e != nil {
				return nil, fmt.Errorf("line %d: %v", line, e)
			}
			if v.Text == nil {
				return nil, fmt.Errorf("line %d: no \"text\" field", line)
			}
			d, ok := SplitLambada(*v.Text)
			if !ok {
				return nil, fmt.Errorf("line %d: the text has no space to split the last word at", line)
			}
			docs = append(docs, d)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return docs, nil
}

// ReadLambadaFile is ReadLambada on a file.
func ReadLambadaFile(path string, limit int) ([]Doc, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	docs, err := ReadLambada(f, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return docs, nil
}

// Result is the outcome of a LAMBADA run (the `eval lambada --json` object).
type Result struct {
	N        int     `json:"n"`
	Correct  int     `json:"correct"`
	Accuracy float64 `json:"accuracy"` // Correct / N
	PPL      float64 `json:"ppl"`      // exp(−LogProbSum / N)
	// LogProbSum is Σ over documents of Σ over target tokens of
	// log p(token | everything before it).
	LogProbSum   float64 `json:"logprob_sum"`
	Tokens       int     `json:"tokens"`        // tokens fed to the model (token 0, context, target but its last token)
	TargetTokens int     `json:"target_tokens"` // tokens scored
	ArgmaxTokens int     `json:"argmax_tokens"` // target tokens that were the argmax at their position
	Seconds      float64 `json:"seconds"`
	TokensPerS   float64 `json:"tokens_per_s"`
}

// Lambada runs the LAMBADA protocol of RWKV-LM's rwkv_v7_demo.py over docs:
// for each document, from a fresh state, feed token 0 followed by
// tok.Encode(context), then score tok.Encode(target) token by token — the
// log-softmax of the logits at each target position, summed — and count
// the document correct when every target token is the argmax at its
// position (the first maximum on ties, as torch.argmax). Then
// ppl = exp(−Σ_docs logprob ÷ N) and accuracy = correct ÷ N.
//
// progress, if not nil, is called after each document with the number done.
func Lambada(m *model.Model, tok tokenizer.Tokenizer, docs []Doc, progress func(done int)) (Result, error) {
	var res Result
	V := m.Cfg.Vocab
	st := m.NewState()
	last := make([]float32, V)
	var all []float32
	src := make([]int, 0, 1024)
	start := time.Now()
	for i, d := range docs {
		src = append(src[:0], 0)
		src = append(src, tok.Encode([]byte(d.Context))...)
		dst := tok.Encode([]byte(d.Target))
		if len(dst) == 0 {
			return res, fmt.Errorf("document %d: the target %q has no tokens", i+1, d.Target)
		}
		st.Reset()
		// Logits after the last context token predict dst[0]; those after
		// dst[j] predict dst[j+1].
		if err := m.Forward(st, src, last); err != nil {
			return res, fmt.Errorf("document %d: %w", i+1, err)
		}
		lp, ok := scoreNext(last, dst[0])
		hits := 0
		if ok {
			hits++
		}
		if n := len(dst) - 1; n > 0 {
			if cap(all) < n*V {
				all = make([]float32, n*V)
			}
			all = all[:n*V]
			if err := m.ForwardAll(st, dst[:n], all); err != nil {
				return res, fmt.Errorf("document %d: %w", i+1, err)
			}
			for j := 0; j < n; j++ {
				l, c := scoreNext(all[j*V:(j+1)*V], dst[j+1])
				lp += l
				ok = ok && c
				if c {
					hits++
				}
			}
		}
		res.N++
		res.LogProbSum += lp
		if ok {
			res.Correct++
		}
		res.Tokens += len(src) + len(dst) - 1
		res.TargetTokens += len(dst)
		res.ArgmaxTokens += hits
		if progress != nil {
			progress(i + 1)
		}
	}
	res.Seconds = time.Since(start).Seconds()
	if res.N > 0 {
		res.Accuracy = float64(res.Correct) / float64(res.N)
		res.PPL = math.Exp(-res.LogProbSum / float64(res.N))
	}
	if res.Seconds > 0 {
		res.TokensPerS = float64(res.Tokens) / res.Seconds
	}
	return res, nil
}

// scoreNext returns log softmax(logits)[id] and whether id is the argmax.
func scoreNext(logits []float32, id int) (float64, bool) {
	return LogProb(logits, id), Argmax(logits) == id
}

// LogProb is log softmax(logits)[id], computed in float64.
func LogProb(logits []float32, id int) float64 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v) - mx)
	}
	return float64(logits[id]) - mx - math.Log(sum)
}

// Argmax is the index of the first largest logit.
func Argmax(logits []float32) int {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	return best
}
