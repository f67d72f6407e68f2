package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rwkv-chat/rwkv-chat/internal/format"
	"github.com/rwkv-chat/rwkv-chat/internal/model"
	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
	"github.com/rwkv-chat/rwkv-chat/internal/tokenizer"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newQuantizeCmd) }

// quantizeTypes are the --type values, in the order the help lists them.
var quantizeTypes = []tensor.DType{
	tensor.F32, tensor.F16, tensor.BF16, tensor.Q8_0, tensor.Q6_K, tensor.Q5_1, tensor.Q5_0,
	tensor.Q5_K, tensor.Q4_1, tensor.Q4_0, tensor.Q4_K,
}

// smallModelEmbd is the largest n_embd that counts as a small model, which
// keeps ≥ 8-bit weights unless --force (4-bit quantization wrecks the 0.1B
// and 0.4B models).
const smallModelEmbd = 1024

type quantizeOptions struct {
	Type        string
	Tokenizer   string
	NoTokenizer bool
	Force       bool
	Rescale     int
	Name        string
}

func newQuantizeCmd(s *streams) *cobra.Command {
	o := &quantizeOptions{}
	var names []string
	for _, dt := range quantizeTypes {
		names = append(names, strings.ToLower(dt.String()))
	}
	cmd := &cobra.Command{
		Use:   "quantize IN OUT [--type TYPE]",
		Short: "Convert a model to a self-contained GGUF file, optionally quantized",
		Long: `Convert the model file IN (.pth, .safetensors, rwkv.cpp .bin or GGUF) into
the GGUF file OUT, with llama.cpp's tensor names and metadata, the World
vocabulary and the chat template inside, laid out to be used by mmap with no
conversion. RWKV-6 and RWKV-7 files are llama.cpp's rwkv6/rwkv7 architectures;
RWKV-4 and RWKV-5, which llama.cpp does not have, are written as rwkv4/rwkv5
with the same naming scheme.

--type sets the type of the attention and FFN matrices: ` + strings.Join(names, ", ") + `.
The embedding and head are not quantized below q8_0; vectors stay f32; LoRA
matrices stay f32 (RWKV-6) or f16 (RWKV-7, quantized types). A k-quant needs
rows of a multiple of 256 elements and otherwise falls back to q5_0 (q4_k),
q5_1 (q5_k) or q8_0 (q6_k).

Small models (n_embd ≤ 1024, e.g. the 0.1B and 0.4B ones) are damaged by
fewer than 8 bits: for them a lower type gives q8_0 and a warning, unless
--force.

The World vocabulary of a 65536-token model is taken from --tokenizer, a
GGUF input, or the places "rwkv-chat run" looks (next to the model, the
cache, $RWKV_CHAT_TOKENIZER).

--rescale N bakes llama.cpp's fp16 rescale into RWKV-6 weights (att.output
and ffn.value of layer i divided by 2^(i/N), rwkv6.rescale_every_n_layers =
N), as llama.cpp's converter does with N = 6; readers halve the residual
stream after every N layers to undo it. The default keeps a GGUF input's
setting and writes none otherwise: float32 engines do not need it, and it
moves the logits slightly through the LayerNorm epsilon.

OUT is written to a temporary file, checked to load, and renamed.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageErrorf("give the input and the output file: rwkv-chat quantize IN OUT --type TYPE")
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error { return runQuantize(o, s, args[0], args[1]) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Type, "type", "q8_0", "type of the matrices: "+strings.Join(names, "|"))
	f.StringVar(&o.Tokenizer, "tokenizer", "", "World vocabulary file (rwkv_vocab_v20230424.txt) to store in the file")
	f.BoolVar(&o.NoTokenizer, "no-tokenizer", false, "write no vocabulary, even for a World model")
	f.BoolVar(&o.Force, "force", false, "use a type below 8 bits even for a small model")
	f.IntVar(&o.Rescale, "rescale", -1, "RWKV-6: bake in llama.cpp's fp16 rescale every N layers (-1: the input's, 0: none)")
	f.StringVar(&o.Name, "name", "", "general.name (default: the input's file name)")
	return cmd
}

func parseQuantizeType(s string) (tensor.DType, error) {
	dt, err := tensor.ParseDType(s)
	if err == nil {
		for _, t := range quantizeTypes {
			if t == dt {
				return dt, nil
			}
		}
	}
	var names []string
	for _, t := range quantizeTypes {
		names = append(names, strings.ToLower(t.String()))
	}
	return 0, usageErrorf("unknown --type %q (want one of %s)", s, strings.Join(names, ", "))
}

// bitsPerWeight is the storage cost of a type, scales included.
func bitsPerWeight(dt tensor.DType) float64 {
	return 8 * float64(dt.BlockBytes()) / float64(dt.BlockElems())
}

func runQuantize(o *quantizeOptions, s *streams, in, out string) error {
	dt, err := parseQuantizeType(o.Type)
	if err != nil {
		return err
	}
	if o.Rescale < -1 {
		return usageErrorf("--rescale must be -1 (automatic), 0 (none) or a layer count")
	}
	if o.NoTokenizer && o.Tokenizer != "" {
		return usageErrorf("--tokenizer and --no-tokenizer exclude each other")
	}
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return usageErrorf("output %s is a directory", out)
	}
	start := time.Now()
	f, err := format.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	emb := f.Get("emb.weight")
	if emb == nil || len(emb.Shape) != 2 {
		return fmt.Errorf("%s: no emb.weight matrix: not an RWKV model this tool can convert", in)
	}
	vocab, embd := emb.Shape[0], emb.Shape[1]

	if dt.Quantized() && bitsPerWeight(dt) < 8 && embd <= smallModelEmbd && !o.Force {
		fmt.Fprintf(s.Err, "rwkv-chat: warning: %s is a small model (n_embd %d ≤ %d), which %s (%.1f bits per weight) damages badly; writing q8_0 instead (use --force to write %s)\n",
			in, embd, smallModelEmbd, strings.ToLower(dt.String()), bitsPerWeight(dt), strings.ToLower(dt.String()))
		dt = tensor.Q8_0
	}

	toks, tokFrom, err := quantizeTokens(o, f, in, vocab)
	if err != nil {
		return err
	}
	opt := format.GGUFOptions{Type: dt, Name: o.Name, Tokens: toks, RescaleEvery: o.Rescale}
	if f.Format == format.FormatGGUF { // keep what a GGUF input says of itself
		if opt.Name == "" {
			opt.Name = f.Meta["general.name"]
		}
		opt.ChatTemplate = f.Meta["tokenizer.chat_template"]
	}
	plan, err := format.PlanGGUF(f, opt)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	for _, fb := range plan.Fallbacks {
		fmt.Fprintf(s.Err, "rwkv-chat: note: %s\n", fb)
	}
	total := plan.Bytes()
	prog := &quantizeProgress{w: s.Err, total: total, start: time.Now(), every: 2 * time.Second}
	for i := range plan.Tensors {
		t := &plan.Tensors[i]
		write := t.Write
		t.Write = func(w io.Writer) error { return write(prog.wrap(w)) }
	}
	check := func(tmp string) error {
		m, err := model.Open(tmp, model.Options{})
		if err != nil {
			return err
		}
		return m.Close()
	}
	if err := plan.WriteFile(out, check); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	var types []string
	for _, t := range []tensor.DType{tensor.F32, tensor.F16, tensor.BF16, tensor.Q8_0, tensor.Q6_K, tensor.Q5_1, tensor.Q5_0, tensor.Q5_K, tensor.Q4_1, tensor.Q4_0, tensor.Q4_K} {
		if n := plan.Types[t]; n > 0 {
			types = append(types, fmt.Sprintf("%s×%d", t, n))
		}
	}
	fmt.Fprintf(s.Out, "wrote %s: %s, RWKV-%s, %d layers, n_embd %d, vocabulary %d (%s), tensors %s, %s in %.1fs\n",
		out, plan.Arch, plan.Version, plan.Layers, plan.Embd, plan.Vocab, tokFrom, strings.Join(types, " "),
		formatBytes(total), time.Since(start).Seconds())
	return nil
}

// quantizeTokens finds the World vocabulary to store, and says where it
// came from.
func quantizeTokens(o *quantizeOptions, f *format.File, in string, vocab int) ([]string, string, error) {
	if o.NoTokenizer {
		return nil, "no tokenizer stored", nil
	}
	fromWorld := func(path string) ([]string, string, error) {
		w, err := tokenizer.LoadWorld(path)
		if err != nil {
			return nil, "", err
		}
		toks, err := tokenizer.GGUFTokens(w, vocab)
		if err != nil {
			return nil, "", fmt.Errorf("%s does not fit %s: %w", path, in, err)
		}
		return toks, "World tokenizer from " + filepath.Base(path), nil
	}
	if o.Tokenizer != "" {
		return fromWorld(o.Tokenizer)
	}
	toks, err := f.WorldTokens()
	if err != nil {
		return nil, "", err
	}
	if toks != nil {
		if len(toks) != vocab {
			return nil, "", fmt.Errorf("%s: its token list has %d entries, its vocabulary %d", in, len(toks), vocab)
		}
		return toks, "World tokenizer from the input", nil
	}
	switch tokenizer.KindForVocab(vocab) {
	case "world":
		path, err := tokenizer.Find("world", in)
		if err != nil {
			return nil, "", fmt.Errorf("%v (or pass --no-tokenizer to write the file without it)", err)
		}
		return fromWorld(path)
	case "neox":
		return nil, "GPT-NeoX tokenizer not stored: keep 20B_tokenizer.json next to the file", nil
	case "bytes":
		return nil, "byte-level, no tokenizer needed", nil
	}
	return nil, "no tokenizer stored", nil
}

// quantizeProgress prints a plain progress line on w every few seconds
// while the file is written.
type quantizeProgress struct {
	w          io.Writer
	total, n   int64
	start, hit time.Time
	every      time.Duration
}

type progressWriter struct {
	w io.Writer
	p *quantizeProgress
}

func (p *quantizeProgress) wrap(w io.Writer) io.Writer { return progressWriter{w, p} }

func (pw progressWriter) Write(b []byte) (int, error) {
	n, err := pw.w.Write(b)
	p := pw.p
	p.n += int64(n)
	if now := time.Now(); now.Sub(p.start) > p.every && now.Sub(p.hit) > p.every && p.total > 0 {
		p.hit = now
		fmt.Fprintf(p.w, "rwkv-chat: quantize: %d%% (%s of %s)\n", 100*p.n/p.total, formatBytes(p.n), formatBytes(p.total))
	}
	return n, err
}
