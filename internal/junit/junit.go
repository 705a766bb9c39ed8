// Package junit writes the JUnit XML that CI dashboards read, for every
// report of libvirt-pki (verify, lint): one shape, so the reports look
// alike in CI.
package junit

import (
	"encoding/xml"
	"io"
)

// Suites is a whole document.
type Suites struct {
	XMLName xml.Name `xml:"testsuites"`
	Suites  []Suite  `xml:"testsuite"`
}

// Suite is one group of cases; Tests and Failures are counted by Add.
type Suite struct {
	Name     string `xml:"name,attr"`
	Tests    int    `xml:"tests,attr"`
	Failures int    `xml:"failures,attr"`
	Cases    []Case `xml:"testcase"`
}

// Case is one checked object: a host, a file, a live endpoint.
type Case struct {
	ClassName string    `xml:"classname,attr"`
	Name      string    `xml:"name,attr"`
	Time      string    `xml:"time,attr,omitempty"`
	Failures  []Failure `xml:"failure,omitempty"`
	SystemOut string    `xml:"system-out,omitempty"`
}

// Failure is a finding at or above the report's failure level.
type Failure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// Add appends c and keeps the counts.
func (s *Suite) Add(c Case) {
	s.Cases = append(s.Cases, c)
	s.Tests++
	if len(c.Failures) > 0 {
		s.Failures++
	}
}

// Write writes the document with the XML header, indented.
func Write(w io.Writer, doc Suites) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
