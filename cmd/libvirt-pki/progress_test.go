package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	p := &progressBar{w: &buf, label: "Issuing", now: func() time.Time { return clock }, start: clock, delay: time.Second, refresh: 100 * time.Millisecond}
	p.Update(1, 10)
	if buf.Len() != 0 {
		t.Fatalf("drew within the first second: %q", buf.String())
	}
	clock = clock.Add(2 * time.Second)
	p.Update(5, 10)
	if !strings.Contains(buf.String(), "\rIssuing [===============>              ] 5/10") {
		t.Fatalf("bar: %q", buf.String())
	}
	n := buf.Len()
	p.Update(6, 10) // same instant: throttled
	if buf.Len() != n {
		t.Fatal("not throttled")
	}
	p.Update(10, 10) // the last update always draws
	p.Done()
	if !strings.HasSuffix(buf.String(), "10/10\r\033[K") {
		t.Fatalf("end: %q", buf.String())
	}
	// Not a terminal: no bar at all.
	f, _ := os.CreateTemp(t.TempDir(), "out")
	if newProgressBar(f, "x") != nil || newProgressBar(&buf, "x") != nil {
		t.Fatal("a bar on a non-terminal")
	}
	var nilBar *progressBar
	nilBar.Update(1, 2)
	nilBar.Done()
}
