//go:build arm64 && !purego

package kernels

// platformImpls lists the SIMD sets this CPU supports, best first.
func platformImpls() []*Impl { return nil }
