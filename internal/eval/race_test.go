//go:build race

package eval

// raceEnabled: the race detector slows the forward pass about tenfold.
const raceEnabled = true
