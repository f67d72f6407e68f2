//go:build race

package model

// raceEnabled: the race detector slows the forward pass about tenfold.
const raceEnabled = true
