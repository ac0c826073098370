// Command compare-go is the Go peer of the compare harness (compare/src).
//
// Each case's counterpart lives in the file named after it, next to the
// Rust counterparts in compare/src/cases/<case>.rs: same work, same sizes.
// The harness builds this package into target/compare-go/ and runs one cell
// per process as `compare-go CASE SIZE`. A cell prints one JSON line:
// {"metrics":{...}} or {"verdict":"..."}. Server cases print
// {"listening":"ADDR"} instead and serve until stdin is closed.
//
// Standard library only, so the build needs no network.
package main

import (
	"fmt"
	"os"
	"strconv"
)

var cases = map[string]func(size int){
	"spawn_join":     spawnJoin,
	"pingpong":       pingpong,
	"skynet":         skynet,
	"parked":         parked,
	"mpmc":           mpmc,
	"syscall_ticker": syscallTicker,
	"cpu_hog":        cpuHog,
	"tcp_echo":       tcpEcho,
	"http_hello":     httpHello,
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: compare-go CASE SIZE")
		os.Exit(2)
	}
	run, known := cases[os.Args[1]]
	if !known {
		fmt.Fprintf(os.Stderr, "unknown case %q\n", os.Args[1])
		os.Exit(2)
	}
	size, err := strconv.Atoi(os.Args[2])
	if err != nil || size <= 0 {
		fmt.Fprintf(os.Stderr, "size %q is not a positive whole number\n", os.Args[2])
		os.Exit(2)
	}
	run(size)
}
