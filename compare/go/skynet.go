// skynet: the classic tree of goroutines, in the original's shape: one
// unbuffered channel per inner node, 10 children each, children never
// joined. With 1,000,000 leaves the root's sum must be 499999500000.
// Counterparts: compare/src/cases/skynet.rs.
package main

import "time"

const fanOut = 10

func skynetNode(parent chan<- int64, number, size int64) {
	if size == 1 {
		parent <- number
		return
	}
	fromChildren := make(chan int64)
	childSize := size / fanOut
	for i := int64(0); i < fanOut; i++ {
		go skynetNode(fromChildren, number+i*childSize, childSize)
	}
	var sum int64
	for i := 0; i < fanOut; i++ {
		sum += <-fromChildren
	}
	parent <- sum
}

func skynet(leaves int) {
	n := int64(leaves)
	started := time.Now()
	fromRoot := make(chan int64)
	go skynetNode(fromRoot, 0, n)
	sum := <-fromRoot
	elapsed := time.Since(started)
	checkSum("skynet sum", sum, n*(n-1)/2)
	emitMetrics(map[string]float64{
		"total_ms": millis(elapsed),
		"tasks":    float64((fanOut*n - 1) / (fanOut - 1)),
	})
}
