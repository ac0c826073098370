// syscall_ticker: with GOMAXPROCS=1, one goroutine blocks in read(2) on an
// empty pipe while another sleeps 100 µs in a loop, recording the longest
// gap between wake-ups from the window start. The read is syscall.Read on
// the raw fd of syscall.Pipe, a real blocking system call: an os.File pipe
// would be non-blocking and parked on the netpoller instead. A goroutine
// writes one byte 20 ms after the window to let the reader go.
// Counterparts: compare/src/cases/syscall_ticker.rs.
package main

import (
	"runtime"
	"syscall"
	"time"
)

const tick = 100 * time.Microsecond

func syscallTicker(windowMs int) {
	runtime.GOMAXPROCS(1)
	var fds [2]int
	if err := syscall.Pipe(fds[:]); err != nil {
		panic(err)
	}
	window := time.Duration(windowMs) * time.Millisecond
	windowStart := time.Now()
	go func() {
		time.Sleep(time.Until(windowStart.Add(window + 20*time.Millisecond)))
		if written, err := syscall.Write(fds[1], []byte{1}); written != 1 || err != nil {
			panic("unblocking write failed")
		}
	}()
	readDone := make(chan int)
	go func() {
		buffer := make([]byte, 1)
		read, err := syscall.Read(fds[0], buffer)
		if err != nil {
			panic(err)
		}
		readDone <- read
	}()
	type gaps struct {
		longest time.Duration
		ticks   int
	}
	tickerDone := make(chan gaps)
	go func() {
		var record gaps
		last := windowStart
		for {
			time.Sleep(tick)
			now := time.Now()
			if gap := now.Sub(last); gap > record.longest {
				record.longest = gap
			}
			last = now
			record.ticks++
			if now.Sub(windowStart) >= window {
				tickerDone <- record
				return
			}
		}
	}()
	record := <-tickerDone
	if read := <-readDone; read != 1 {
		panic("the blocked reader should get one byte")
	}
	syscall.Close(fds[0])
	syscall.Close(fds[1])
	emitMetrics(map[string]float64{
		"max_gap_us": micros(record.longest),
		"ticks":      float64(record.ticks),
	})
}
