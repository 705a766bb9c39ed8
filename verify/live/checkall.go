package live

import (
	"context"
	"sync"
)

// CheckAll runs the jobs with at most concurrency checks in flight
// (DefaultConcurrency when concurrency <= 0) and returns their results in
// job order. Since each check is bounded by its own timeout, the whole run
// takes at most ceil(len(jobs)/concurrency) times the largest timeout,
// never len(jobs) times it. Cancelling ctx ends the run early: pending jobs
// then finish at once with class "error".
func CheckAll(ctx context.Context, jobs []Job, concurrency int) []Result {
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	if concurrency > len(jobs) {
		concurrency = len(jobs)
	}
	results := make([]Result, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				j := jobs[i]
				results[i] = checkFunc(ctx, j.Target, j.Credentials, j.Options)
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

// checkFunc is Check; tests swap it to observe CheckAll's scheduling.
var checkFunc = Check
