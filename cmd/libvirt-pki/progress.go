package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progressBar draws "Issuing certificates [=====>    ] 512/2000" on a
// terminal, for runs long enough to need it: nothing is drawn in the
// first second, at most ten times a second, and never on a non-terminal.
type progressBar struct {
	w       io.Writer
	label   string
	now     func() time.Time
	start   time.Time
	mu      sync.Mutex
	last    time.Time
	drawn   bool
	delay   time.Duration
	refresh time.Duration
}

// newProgressBar returns a bar drawing on w, or nil when w is not a
// terminal (a nil *progressBar's methods do nothing).
func newProgressBar(w io.Writer, label string) *progressBar {
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f) {
		return nil
	}
	return &progressBar{w: w, label: label, now: time.Now, start: time.Now(), delay: time.Second, refresh: 100 * time.Millisecond}
}

// Update is a progress callback: done of total finished.
func (p *progressBar) Update(done, total int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if now.Sub(p.start) < p.delay || (now.Sub(p.last) < p.refresh && done < total) {
		return
	}
	p.last = now
	const width = 30
	filled := width * done / max(total, 1)
	bar := make([]byte, width)
	for i := range bar {
		switch {
		case i < filled:
			bar[i] = '='
		case i == filled:
			bar[i] = '>'
		default:
			bar[i] = ' '
		}
	}
	fmt.Fprintf(p.w, "\r%s [%s] %d/%d", p.label, bar, done, total)
	p.drawn = true
}

// Done clears the bar's line, if one was drawn.
func (p *progressBar) Done() {
	if p == nil || !p.drawn {
		return
	}
	fmt.Fprint(p.w, "\r\033[K")
}

// callback returns Update as a func, or nil for a nil bar.
func (p *progressBar) callback() func(done, total int) {
	if p == nil {
		return nil
	}
	return p.Update
}
