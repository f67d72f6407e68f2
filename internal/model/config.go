// Package model holds the RWKV networks of versions 4, 5.0/5.1/5.2, 6.0 and
// 7.0: weights taken from any file format, a forward pass that mirrors the
// equations of the spec (§3, §4) and the per-session recurrent State.
package model

import (
	"fmt"
	"strings"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// Config describes one network.
type Config struct {
	Version  string // "4", "5.0", "5.1", "5.2", "6.0", "7.0"
	Vocab    int    // V
	Embd     int    // C
	Att      int    // A
	FFN      int    // F
	Layers   int    // L
	Heads    int    // H (0 for v4)
	HeadSize int    // N (0 for v4)

	// GroupNormEps is ε of the per-head ln_x (64e-5; rwkv.cpp uses 1e-5
	// for v5, which its tiny test logits need).
	GroupNormEps float32
	// RescaleEvery halves the residual stream after every n layers (only
	// llama.cpp RWKV6 GGUF files, whose weights have the division baked in).
	RescaleEvery int
}

// Major is the version's major number (4…7).
func (c *Config) Major() int {
	if c.Version == "" {
		return 0
	}
	return int(c.Version[0] - '0') // versions are "4" … "7.0"
}

// StateFloats is the size of one session's state.
func (c *Config) StateFloats() int { return c.Layers * c.layerFloats() }

func (c *Config) layerFloats() int {
	if c.Major() == 4 {
		return 2*c.Embd + 3*c.Att
	}
	return 2*c.Embd + c.Heads*c.HeadSize*c.HeadSize
}

// detectVersion follows spec §2.2 / §6.3, independent of key order.
func detectVersion(has func(string) bool, get func(string) *tensor.Tensor, names []string) (string, error) {
	any := func(sub string) bool {
		for _, n := range names {
			if strings.Contains(n, sub) {
				return true
			}
		}
		return false
	}
	suffix := func(suf string) bool {
		for _, n := range names {
			if strings.HasSuffix(n, suf) {
				return true
			}
		}
		return false
	}
	switch {
	case any("ffn.s_emb") || any("ffn.s1") || any("ffn.s0"):
		return "", fmt.Errorf("RWKV-7 DeepEmbed (rwkv7a) models are not supported")
	case any(".qkv."):
		return "", fmt.Errorf("RWKV-7b models are not supported")
	case any("ffnPre") || any("head_q") || any("head_k"):
		return "", fmt.Errorf("early RWKV-4 models with ffnPre/head_q are not supported")
	case any("_strategy") || any("_rescale_layer"):
		return "", fmt.Errorf("this is a ChatRWKV pre-converted file; use the original .pth")
	}
	if suffix("att.r_k") || suffix("att.k_k") || suffix("att.x_rwkvag") || suffix("att.x_r") {
		return "7.0", nil
	}
	if any("time_maa") {
		return "6.0", nil
	}
	if any("ln_x") {
		if !any("gate.weight") {
			return "5.0", nil
		}
		if any(".time_faaaa") {
			return "5.2", nil
		}
		if t := get("blocks.0.att.time_decay"); t != nil && len(t.Shape) >= 2 && t.Shape[1] > 1 {
			return "5.2", nil
		}
		return "5.1", nil
	}
	if has("blocks.0.att.time_first") || has("blocks.0.att.time_decay") {
		return "4", nil
	}
	return "", fmt.Errorf("no RWKV tensors found (blocks.0.att.* missing)")
}
