// spawn_join: spawn N goroutines that each hand back their index, then
// collect every result; the sum must be N(N-1)/2. Go has no join handles:
// each goroutine stores its index in its own slice slot and a WaitGroup
// waits for all. Counterparts: compare/src/cases/spawn_join.rs.
package main

import (
	"sync"
	"time"
)

func spawnJoin(tasks int) {
	started := time.Now()
	results := make([]int64, tasks)
	var done sync.WaitGroup
	done.Add(tasks)
	for i := 0; i < tasks; i++ {
		go func(i int) {
			results[i] = int64(i)
			done.Done()
		}(i)
	}
	done.Wait()
	var sum int64
	for _, result := range results {
		sum += result
	}
	elapsed := time.Since(started)
	n := int64(tasks)
	checkSum("sum of task indices", sum, n*(n-1)/2)
	emitMetrics(map[string]float64{"ns_per_task": nsPer(elapsed, tasks)})
}
