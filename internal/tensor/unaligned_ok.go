//go:build (amd64 || arm64) && !race

package tensor

// unalignedOK: these CPUs load unaligned words at full speed, so views of
// mapped files need no copy.
const unalignedOK = true
