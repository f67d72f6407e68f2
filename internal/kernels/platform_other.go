//go:build purego || !(amd64 || arm64)

package kernels

// platformImpls: no SIMD sets with purego or on other architectures.
func platformImpls() []*Impl { return nil }
