// Command rwkv-chat runs RWKV language models on the CPU: an interactive
// chat, one-shot answers, perplexity and benchmarks. main only wires the
// process's streams and exit code; each command lives in its own file.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

func main() {
	os.Exit(profiled(func() int { return execute(os.Args[1:], newStreams()) }))
}

// profiled runs f with a CPU profile written to $RWKV_CHAT_CPUPROFILE when
// that is set (for developers: `go tool pprof rwkv-chat FILE`).
func profiled(f func() int) int {
	path := os.Getenv("RWKV_CHAT_CPUPROFILE")
	if path == "" {
		return f()
	}
	out, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rwkv-chat: cpu profile: %v\n", err)
		return exitError
	}
	defer out.Close()
	if err := pprof.StartCPUProfile(out); err != nil {
		fmt.Fprintf(os.Stderr, "rwkv-chat: cpu profile: %v\n", err)
		return exitError
	}
	code := f()
	pprof.StopCPUProfile()
	return code
}
