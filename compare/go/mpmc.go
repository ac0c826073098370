// mpmc: one channel with capacity 1024, 4 producers sending N/4 numbers
// each (together 0..N), 4 consumers receiving until it is closed; the
// total must be N(N-1)/2. The channel is closed once a WaitGroup over the
// producers is done. Counterparts: compare/src/cases/mpmc.rs.
package main

import (
	"sync"
	"time"
)

const (
	mpmcCapacity  = 1024
	mpmcProducers = 4
	mpmcConsumers = 4
)

func mpmc(messages int) {
	if messages%mpmcProducers != 0 {
		panic("mpmc needs a multiple of 4 messages")
	}
	each := int64(messages / mpmcProducers)
	started := time.Now()
	channel := make(chan int64, mpmcCapacity)
	var producing, consuming sync.WaitGroup
	producing.Add(mpmcProducers)
	for p := int64(0); p < mpmcProducers; p++ {
		go func(p int64) {
			for value := p * each; value < (p+1)*each; value++ {
				channel <- value
			}
			producing.Done()
		}(p)
	}
	go func() {
		producing.Wait()
		close(channel)
	}()
	sums := make([]int64, mpmcConsumers)
	consuming.Add(mpmcConsumers)
	for c := 0; c < mpmcConsumers; c++ {
		go func(c int) {
			var sum int64
			for value := range channel {
				sum += value
			}
			sums[c] = sum
			consuming.Done()
		}(c)
	}
	consuming.Wait()
	var total int64
	for _, sum := range sums {
		total += sum
	}
	elapsed := time.Since(started)
	n := int64(messages)
	checkSum("sum of received messages", total, n*(n-1)/2)
	emitMetrics(map[string]float64{"ns_per_message": nsPer(elapsed, messages)})
}
