// pingpong: two goroutines bounce a counter over two unbuffered channels,
// N round trips; the last value back must be N.
// Counterparts: compare/src/cases/pingpong.rs.
package main

import "time"

func pingpong(roundTrips int) {
	ping := make(chan int64)
	pong := make(chan int64)
	ponged := make(chan struct{})
	go func() {
		for value := range ping {
			pong <- value + 1
		}
		close(ponged)
	}()
	started := time.Now()
	var value int64
	for i := 0; i < roundTrips; i++ {
		ping <- value
		value = <-pong
	}
	elapsed := time.Since(started)
	checkSum("last value back", value, int64(roundTrips))
	close(ping)
	<-ponged
	emitMetrics(map[string]float64{"ns_per_round_trip": nsPer(elapsed, roundTrips)})
}
