//go:build linux && race

package format

func init() { limitsUnderRace = true }
