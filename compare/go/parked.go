// parked: N goroutines that each check in (a WaitGroup) and then park on a
// receive from one release channel. Creation time runs until all N have
// checked in; RSS per goroutine is the VmRSS growth over that time divided
// by N. Then close(release) wakes them all and a second WaitGroup waits
// for them to exit. Counterparts: compare/src/cases/parked.rs.
package main

import (
	"sync"
	"time"
)

func parked(tasks int) {
	release := make(chan struct{})
	var arrived, exited sync.WaitGroup
	arrived.Add(tasks)
	exited.Add(tasks)
	rssBefore := residentBytes()
	started := time.Now()
	for i := 0; i < tasks; i++ {
		go func() {
			arrived.Done()
			<-release
			exited.Done()
		}()
	}
	arrived.Wait()
	createMs := millis(time.Since(started))
	rssAfter := residentBytes()
	released := time.Now()
	close(release)
	exited.Wait()
	grown := rssAfter - rssBefore
	if grown < 0 {
		grown = 0
	}
	emitMetrics(map[string]float64{
		"create_ms":          createMs,
		"rss_bytes_per_task": grown / float64(tasks),
		"release_ms":         millis(time.Since(released)),
	})
}
