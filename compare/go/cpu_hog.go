// cpu_hog: with GOMAXPROCS=1, a sleeper goroutine naps 1 ms in a loop;
// 5 ms later a hog goroutine spins for the size in ms without yielding.
// The sleeper records how late each nap that overlaps the spin woke, and
// stops at the first wake-up that finds the hog done. Reports the worst
// lateness, or "starved" if the sleeper never woke during the spin.
// Go 1.14+ preempts the hog asynchronously (signals).
// Counterparts: compare/src/cases/cpu_hog.rs.
package main

import (
	"runtime"
	"sync/atomic"
	"time"
)

const (
	nap    = time.Millisecond
	settle = 5 * time.Millisecond

	hogNotStarted = 0
	hogSpinning   = 1
	hogDone       = 2
)

func cpuHog(spinMs int) {
	runtime.GOMAXPROCS(1)
	spin := time.Duration(spinMs) * time.Millisecond
	var phase int32
	type lateness struct {
		worst          time.Duration
		wakesDuringHog int
	}
	sleeperDone := make(chan lateness)
	go func() {
		var seen lateness
		for {
			asleep := time.Now()
			time.Sleep(nap)
			late := time.Since(asleep) - nap
			switch atomic.LoadInt32(&phase) {
			case hogNotStarted:
				continue
			case hogSpinning:
				seen.wakesDuringHog++
			}
			if late > seen.worst {
				seen.worst = late
			}
			if atomic.LoadInt32(&phase) == hogDone {
				sleeperDone <- seen
				return
			}
		}
	}()
	time.Sleep(settle)
	hogDoneSignal := make(chan struct{})
	go func() {
		atomic.StoreInt32(&phase, hogSpinning)
		started := time.Now()
		for time.Since(started) < spin {
		}
		atomic.StoreInt32(&phase, hogDone)
		close(hogDoneSignal)
	}()
	<-hogDoneSignal
	seen := <-sleeperDone
	if seen.wakesDuringHog == 0 {
		emitVerdict("starved")
		return
	}
	emitMetrics(map[string]float64{
		"max_lateness_ms":  millis(seen.worst),
		"wakes_during_hog": float64(seen.wakesDuringHog),
	})
}
