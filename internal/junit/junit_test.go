package junit

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
)

func TestWriteCountsAndParses(t *testing.T) {
	s := Suite{Name: "x"}
	s.Add(Case{ClassName: "c", Name: "ok"})
	s.Add(Case{ClassName: "c", Name: "bad", Failures: []Failure{{Message: "m", Type: "t", Text: "a <b> & c"}}})
	var buf bytes.Buffer
	if err := Write(&buf, Suites{Suites: []Suite{s}}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), xml.Header) {
		t.Fatalf("no XML header: %q", buf.String())
	}
	var back Suites
	if err := xml.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	got := back.Suites[0]
	if got.Tests != 2 || got.Failures != 1 || got.Cases[1].Failures[0].Text != "a <b> & c" {
		t.Fatalf("round trip: %+v", got)
	}
}
