// Package parallel runs independent pieces of work on every core, each
// writing its own result slot, so callers keep their results in order.
package parallel

import (
	"runtime"
	"sync"
)

// Each calls do(i) for every i in [0, n) on up to workers goroutines
// (GOMAXPROCS when workers < 1) and returns when all calls have.
func Each(n, workers int, do func(i int)) {
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				do(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
