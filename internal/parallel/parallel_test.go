package parallel

import (
	"sync/atomic"
	"testing"
)

// Every index is done exactly once, whatever the number of workers, and
// Each returns only when all are.
func TestEachDoesEveryIndexOnce(t *testing.T) {
	for _, workers := range []int{0, 1, 3, 100} {
		for _, n := range []int{0, 1, 7, 1000} {
			done := make([]atomic.Int32, n)
			Each(n, workers, func(i int) { done[i].Add(1) })
			for i := range done {
				if c := done[i].Load(); c != 1 {
					t.Fatalf("workers=%d n=%d: index %d done %d times", workers, n, i, c)
				}
			}
		}
	}
}
