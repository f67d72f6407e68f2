//go:build !(amd64 || arm64) || race

package tensor

// unalignedOK is false where unaligned loads may fault or be slow, and in
// race builds, whose checkptr instrumentation rejects misaligned pointers.
const unalignedOK = false
