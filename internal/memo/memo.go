// Package memo computes a value once per key, however many goroutines ask
// for it at once: the others wait for the first and share its value.
package memo

import "sync"

// Map holds one value per key. The zero Map is ready to use; a Map must
// not be copied after first use.
type Map[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]*entry[V]
}

type entry[V any] struct {
	once sync.Once
	v    V
}

// Get returns key's value, calling compute for it only the first time.
func (c *Map[K, V]) Get(key K, compute func() V) V {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[K]*entry[V]{}
	}
	e, ok := c.m[key]
	if !ok {
		e = &entry[V]{}
		c.m[key] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.v = compute() })
	return e.v
}
