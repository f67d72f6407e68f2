package sampler

import (
	"runtime"
	"syscall"
	"testing"
)

func cpuNow() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return float64(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestDebugCPU(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, tc := range []struct {
		name string
		p    Params
		flat bool
	}{
		{"greedy", Params{}, false},
		{"chat", Params{Temperature: 1, TopP: 0.3, Presence: 0.5, Frequency: 0.5, Decay: 0.996}, false},
		{"p085T08", Params{Temperature: 0.8, TopP: 0.85}, false},
		{"k100p05", Params{Temperature: 1, TopP: 0.5, TopK: 100}, false},
		{"nofilter", Params{Temperature: 1, TopP: 1}, false},
		{"nofilterT", Params{Temperature: 0.7, TopP: 1}, false},
		{"flat p0.3", Params{Temperature: 1, TopP: 0.3}, true},
		{"flat p0.85", Params{Temperature: 1, TopP: 0.85}, true},
		{"flat k100", Params{Temperature: 1, TopP: 1, TopK: 100}, true},
	} {
		l := benchLogits(tc.flat)
		s := New(len(l), tc.p)
		const n = 100
		t0 := cpuNow()
		for i := range n {
			s.Sample(l)
			s.Accept(i*7919%len(l), []byte("x"))
		}
		t.Logf("%-12s %8.0f ns CPU/op", tc.name, (cpuNow()-t0)/n)
	}
}
