// Package arch tells which RWKV version a set of tensors belongs to, from
// their names and shapes (spec §2.2 and §6.3), independent of key order and
// of the file format. The model loader and the GGUF writer share it.
package arch

import (
	"errors"
	"strings"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

// Detect returns "4", "5.0", "5.1", "5.2", "6.0" or "7.0", or an error for
// the variants rwkv-chat does not run.
func Detect(ts []*tensor.Tensor) (string, error) {
	contains := func(sub string) bool {
		for _, t := range ts {
			if strings.Contains(t.Name, sub) {
				return true
			}
		}
		return false
	}
	suffix := func(suf string) bool {
		for _, t := range ts {
			if strings.HasSuffix(t.Name, suf) {
				return true
			}
		}
		return false
	}
	get := func(name string) *tensor.Tensor {
		for _, t := range ts {
			if t.Name == name {
				return t
			}
		}
		return nil
	}
	switch {
	case contains("ffn.s_emb") || contains("ffn.s1") || contains("ffn.s0"):
		return "", errors.New("RWKV-7 DeepEmbed (rwkv7a) models are not supported")
	case contains(".qkv."):
		return "", errors.New("RWKV-7b models are not supported")
	case contains("ffnPre") || contains("head_q") || contains("head_k"):
		return "", errors.New("early RWKV-4 models with ffnPre/head_q are not supported")
	case contains("_strategy") || contains("_rescale_layer"):
		return "", errors.New("this is a ChatRWKV pre-converted file; use the original .pth")
	case suffix("att.r_k") || suffix("att.k_k") || suffix("att.x_rwkvag") || suffix("att.x_r"):
		return "7.0", nil
	case contains("time_maa"):
		return "6.0", nil
	case contains("ln_x"):
		if !contains("gate.weight") {
			return "5.0", nil
		}
		if contains(".time_faaaa") {
			return "5.2", nil
		}
		// Per-channel decay: (H, N) in .pth, (H, N, 1) in rwkv.cpp files.
		if t := get("blocks.0.att.time_decay"); t != nil && len(t.Shape) >= 2 && t.Shape[1] > 1 {
			return "5.2", nil
		}
		return "5.1", nil
	case get("blocks.0.att.time_first") != nil || get("blocks.0.att.time_decay") != nil:
		return "4", nil
	}
	return "", errors.New("no RWKV tensors found (blocks.0.att.* missing)")
}
