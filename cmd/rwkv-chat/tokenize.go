package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rwkv-chat/rwkv-chat/internal/format"
	"github.com/rwkv-chat/rwkv-chat/internal/tokenizer"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newTokenizeCmd) }

type tokenizeOptions struct {
	Model     string
	Tokenizer string
	JSON      bool
	JSONL     bool
}

func newTokenizeCmd(s *streams) *cobra.Command {
	o := &tokenizeOptions{}
	cmd := &cobra.Command{
		Use:   "tokenize [--model FILE | --tokenizer T] [--json | --jsonl] TEXT",
		Short: "Print the token ids of a text",
		Long: `Print the token ids of TEXT (- reads standard input), separated by spaces.

The tokenizer is the one the model's vocabulary needs (--model), or the one
--tokenizer names: world, neox, bytes, or the path of a vocabulary file
(rwkv_vocab_v20230424.txt, 20B_tokenizer.json).

--json prints one object {"ids": [...], "pieces": [...]}, each piece being
the token's bytes as a string, with \xHH for bytes that are not UTF-8.
--jsonl reads standard input line by line, each line a JSON object with a
"text" or a "bytes_hex" field, and prints one such object per line.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.JSONL {
				if len(args) > 1 || (len(args) == 1 && args[0] != "-") {
					return usageErrorf("--jsonl reads standard input: give no TEXT")
				}
				return nil
			}
			if len(args) != 1 {
				return usageErrorf("give one TEXT to tokenize (- for standard input), or --jsonl")
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error { return runTokenize(o, s, args) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.Model, "model", "m", "", "model file whose vocabulary chooses the tokenizer")
	f.StringVar(&o.Tokenizer, "tokenizer", "", "world, neox, bytes or a vocabulary file (default: from the model)")
	f.BoolVar(&o.JSON, "json", false, `print {"ids": [...], "pieces": [...]}`)
	f.BoolVar(&o.JSONL, "jsonl", false, `read JSON lines {"text": ...} or {"bytes_hex": ...} from standard input, print one object per line`)
	return cmd
}

func runTokenize(o *tokenizeOptions, s *streams, args []string) error {
	if o.JSON && o.JSONL {
		return usageErrorf("--json and --jsonl exclude each other")
	}
	if o.Model == "" && o.Tokenizer == "" {
		return usageErrorf("choose the tokenizer: --model FILE or --tokenizer world|neox|bytes|PATH")
	}
	vocab := 0
	if o.Model != "" {
		v, err := modelVocab(o.Model)
		if err != nil {
			return err
		}
		vocab = v
	}
	tok, err := tokenizer.Select(vocab, o.Tokenizer, o.Model)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(s.Out)
	defer w.Flush()
	if o.JSONL {
		if err := tokenizeJSONL(tok, s.In, w); err != nil {
			return err
		}
		return w.Flush()
	}
	var text []byte
	if args[0] == "-" {
		if text, err = io.ReadAll(s.In); err != nil {
			return fmt.Errorf("reading standard input: %w", err)
		}
	} else {
		text = []byte(args[0])
	}
	ids := tok.Encode(text)
	if o.JSON {
		if err := writeTokensJSON(w, tok, ids); err != nil {
			return err
		}
	} else {
		for i, id := range ids {
			if i > 0 {
				w.WriteByte(' ')
			}
			w.WriteString(strconv.Itoa(id))
		}
		w.WriteByte('\n')
	}
	return w.Flush()
}

// modelVocab reads the vocabulary size of a model file: the rows of its
// embedding (or the rwkv.cpp header's n_vocab).
func modelVocab(path string) (int, error) {
	f, err := format.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	for _, name := range []string{"emb.weight", "token_embd.weight", "model.embeddings.weight", "rwkv.embeddings.weight"} {
		if t := f.Get(name); t != nil && len(t.Shape) == 2 {
			return t.Shape[0], nil
		}
	}
	if v, err := strconv.Atoi(f.Meta["n_vocab"]); err == nil && v > 0 {
		return v, nil
	}
	return 0, fmt.Errorf("%s: no embedding tensor (emb.weight) to read the vocabulary size from; pass --tokenizer", path)
}

// tokenizeJSONL encodes each input line {"text": ...} or {"bytes_hex": ...}.
func tokenizeJSONL(tok tokenizer.Tokenizer, in io.Reader, w *bufio.Writer) error {
	r := bufio.NewReader(in)
	for lineNo := 1; ; lineNo++ {
		line, err := r.ReadBytes('\n')
		if len(strings.TrimSpace(string(line))) > 0 {
			var rec struct {
				Text     *string `json:"text"`
				BytesHex *string `json:"bytes_hex"`
			}
			if jerr := json.Unmarshal(line, &rec); jerr != nil {
				return fmt.Errorf("input line %d: %v", lineNo, jerr)
			}
			var text []byte
			switch {
			case rec.BytesHex != nil:
				b, herr := hex.DecodeString(*rec.BytesHex)
				if herr != nil {
					return fmt.Errorf("input line %d: bytes_hex: %v", lineNo, herr)
				}
				text = b
			case rec.Text != nil:
				text = []byte(*rec.Text)
			default:
				return fmt.Errorf("input line %d: no \"text\" or \"bytes_hex\" field", lineNo)
			}
			if werr := writeTokensJSON(w, tok, tok.Encode(text)); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading standard input: %w", err)
		}
	}
}

// writeTokensJSON prints {"ids":[...],"pieces":[...]} and a newline.
func writeTokensJSON(w *bufio.Writer, tok tokenizer.Tokenizer, ids []int) error {
	out := struct {
		IDs    []int    `json:"ids"`
		Pieces []string `json:"pieces"`
	}{IDs: ids, Pieces: make([]string, len(ids))}
	if out.IDs == nil {
		out.IDs = []int{}
	}
	for i, id := range ids {
		out.Pieces[i] = pieceString(tok.TokenBytes(id))
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// pieceString returns b as text, writing each byte that is not part of a
// valid UTF-8 character as \xHH.
func pieceString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			fmt.Fprintf(&sb, `\x%02x`, b[0])
		} else {
			sb.Write(b[:size])
		}
		b = b[size:]
	}
	return sb.String()
}
