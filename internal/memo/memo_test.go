package memo

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Goroutines asking for one key at once wait for a single computation
// and share its value; other keys are computed on their own.
func TestGetComputesEachKeyOnce(t *testing.T) {
	var m Map[string, int]
	var calls atomic.Int32
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := []string{"a", "b"}[i%2]
			got := m.Get(key, func() int {
				calls.Add(1)
				time.Sleep(10 * time.Millisecond) // let the others arrive and wait
				return len(key) * 10
			})
			if got != 10 {
				t.Errorf("Get(%q) = %d, want 10", key, got)
			}
		}()
	}
	wg.Wait()
	if c := calls.Load(); c != 2 {
		t.Errorf("computed %d times for two keys, want 2", c)
	}
}
