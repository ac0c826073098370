// What every Go counterpart shares: printing its one result line, reading
// its own resident memory, and turning durations into the harness's units.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// emitMetrics prints {"metrics":{...}}, the line the harness reads.
func emitMetrics(metrics map[string]float64) {
	emit(map[string]interface{}{"metrics": metrics})
}

// emitVerdict prints {"verdict":"..."} for a result that is not a number.
func emitVerdict(verdict string) {
	emit(map[string]interface{}{"verdict": verdict})
}

func emit(value interface{}) {
	line, err := json.Marshal(value)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(line))
}

// checkSum panics unless a checksum came out right: a wrong answer is a
// failed run, never a fast one.
func checkSum(what string, got, want int64) {
	if got != want {
		panic(fmt.Sprintf("%s: got %d, expected %d", what, got, want))
	}
}

// residentBytes is VmRSS from /proc/self/status, in bytes.
func residentBytes() float64 {
	file, err := os.Open("/proc/self/status")
	if err != nil {
		panic(err)
	}
	defer file.Close()
	lines := bufio.NewScanner(file)
	for lines.Scan() {
		if rest := strings.TrimPrefix(lines.Text(), "VmRSS:"); rest != lines.Text() {
			kib, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			if err != nil {
				panic(err)
			}
			return kib * 1024
		}
	}
	panic("/proc/self/status has no VmRSS line")
}

func nsPer(elapsed time.Duration, count int) float64 {
	return float64(elapsed.Nanoseconds()) / float64(count)
}

func millis(elapsed time.Duration) float64 {
	return elapsed.Seconds() * 1e3
}

func micros(elapsed time.Duration) float64 {
	return elapsed.Seconds() * 1e6
}

// exitWhenStdinCloses ends a server cell when the harness closes stdin.
func exitWhenStdinCloses() {
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
}

// listenLoopback listens on 127.0.0.1 with a port the OS picks and prints
// the {"listening":"ADDR"} line the harness waits for.
func listenLoopback() net.Listener {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	emit(map[string]string{"listening": listener.Addr().String()})
	return listener
}
