// Command rwkv-chat runs RWKV language models on the CPU: an interactive
// chat, one-shot answers, perplexity and benchmarks. main only wires the
// process's streams and exit code; each command lives in its own file.
package main

import "os"

func main() {
	os.Exit(execute(os.Args[1:], newStreams()))
}
