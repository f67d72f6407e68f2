// Package model holds the RWKV networks of versions 4, 5.0/5.1/5.2, 6.0 and
// 7.0: weights taken from any file format, a forward pass that mirrors the
// equations of the spec (§3, §4) and the per-session recurrent State.
package model

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
