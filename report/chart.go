package report

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/libvirt-pki/libvirt-pki/audit"
	"github.com/libvirt-pki/libvirt-pki/credential"
)

// Chart is the expiry timeline: every certificate and CRL as one mark on
// a time axis (one lane per kind), coloured by days left, the CAs'
// validity as bands and "now" marked. Marks carry no text beyond their
// position (a <title> each only up to TitledMarks marks), and each lane
// has one hover box per bucket saying how many expire in it: the SVG of
// 30,000 certificates stays near 1 MB.
type Chart struct {
	Width, Height int
	PlotLeft      int
	PlotRight     int
	AxisY         int
	NowX          string
	NowLabel      string
	Ticks         []Tick
	Bands         []Band
	Lanes         []Lane
	Marks         int
}

// Tick is one date on the axis.
type Tick struct{ X, Label string }

// Band is one CA's validity.
type Band struct {
	X, W string
	// TextX and Anchor place its label: ending at the band's end, or
	// after it when the band is too short to hold it.
	TextX, Anchor string
	Y             int
	Label         string
	Status        string
}

// Lane holds the marks of one kind.
type Lane struct {
	Label   string
	Y, H    int
	Count   int
	Groups  []MarkGroup
	Buckets []Bucket
}

// MarkGroup is the marks of one colour (status class) in a lane.
type MarkGroup struct {
	Class string
	Marks []Mark
}

// Mark is one certificate or CRL.
type Mark struct {
	X     string
	Y     int
	Title string
}

// Bucket is a hover box counting the marks in one stretch of a lane.
type Bucket struct {
	X, W  string
	Title string
}

// Chart geometry, in SVG user units.
const (
	chartWidth  = 1100
	plotLeft    = 120
	plotRight   = chartWidth - 20
	laneHeight  = 50
	bandHeight  = 15
	markSize    = 5
	markStack   = 8 // marks on one x stack this high, then start over
	bucketWidth = 10
	// bandLabelRoom is the width a band's label needs inside the plot.
	bandLabelRoom = 420
	// TitledMarks is the most marks that get a <title> of their own.
	TitledMarks = 600
)

// timeScale maps times to x.
type timeScale struct{ t0, t1 time.Time }

func (s timeScale) x(t time.Time) float64 {
	if t.Before(s.t0) { // clipped: a CA's band may start before the axis
		t = s.t0
	}
	if t.After(s.t1) {
		t = s.t1
	}
	f := float64(t.Sub(s.t0)) / float64(s.t1.Sub(s.t0))
	return plotLeft + f*(plotRight-plotLeft)
}

func fx(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// scaleFor spans now and every row's end, padded.
func scaleFor(rows []audit.Row, cas []CA, now time.Time) timeScale {
	t0, t1 := now, now.Add(30*24*time.Hour)
	later := func(t time.Time) {
		if t.After(t1) {
			t1 = t
		}
	}
	for _, r := range rows {
		if r.NotAfter.Before(t0) {
			t0 = r.NotAfter
		}
		later(r.NotAfter)
	}
	for _, c := range cas {
		later(c.NotAfter)
	}
	pad := t1.Sub(t0) / 40
	return timeScale{t0.Add(-pad), t1.Add(pad)}
}

// statusClass colours a row: revoked, not yet valid, expired, within
// --warn-days, within 90 days, later.
func statusClass(r audit.Row, now time.Time, warnDays int) string {
	switch {
	case r.Status == audit.Revoked:
		return "rv"
	case r.Status == audit.NotYetValid:
		return "ny"
	case !r.NotAfter.After(now):
		return "ex"
	case daysLeft(r.NotAfter, now) < warnDays:
		return "wa"
	case daysLeft(r.NotAfter, now) < 90:
		return "so"
	}
	return "ok"
}

// statusClasses is the colour order of the legend and the mark groups.
var statusClasses = []string{"ex", "rv", "wa", "so", "ok", "ny"}

// laneOrder puts the CA first, the kinds in credential.Kinds' order, then
// CRLs and served certificates.
func laneOrder(kind string) int {
	if kind == "ca" {
		return -1
	}
	for i, k := range credential.Kinds {
		if k.Name == kind {
			return i
		}
	}
	return map[string]int{"crl": 1000, "live": 1001}[kind] + 2000*btoi(kind != "crl" && kind != "live")
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// chart lays out the timeline.
func chart(rows []audit.Row, cas []CA, now time.Time, warnDays int) Chart {
	s := scaleFor(rows, cas, now)
	c := Chart{Width: chartWidth, PlotLeft: plotLeft, PlotRight: plotRight, NowX: fx(s.x(now)), NowLabel: "now " + now.UTC().Format(time.DateOnly)}
	y := 22
	for _, ca := range cas {
		b := Band{X: fx(s.x(ca.NotBefore)), W: fx(s.x(ca.NotAfter) - s.x(ca.NotBefore)), TextX: fx(s.x(ca.NotAfter) - 4), Anchor: "end", Y: y,
			Label: fmt.Sprintf("CA %s (%s) until %s", ca.Subject, ca.Role, ca.NotAfter.Format(time.DateOnly)), Status: ca.Status}
		if s.x(ca.NotAfter)-plotLeft < bandLabelRoom {
			b.TextX, b.Anchor = fx(s.x(ca.NotAfter)+4), "start"
		}
		c.Bands = append(c.Bands, b)
		y += bandHeight + 2
	}
	byKind := map[string][]audit.Row{}
	for _, r := range rows {
		byKind[r.Kind] = append(byKind[r.Kind], r)
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if a, b := laneOrder(kinds[i]), laneOrder(kinds[j]); a != b {
			return a < b
		}
		return kinds[i] < kinds[j]
	})
	titled := len(rows) <= TitledMarks
	for _, k := range kinds {
		l := lane(k, byKind[k], s, y, now, warnDays, titled)
		c.Marks += l.Count
		c.Lanes = append(c.Lanes, l)
		y += laneHeight
	}
	c.AxisY = y + 4
	c.Ticks = ticks(s)
	c.Height = c.AxisY + 22
	return c
}

// lane stacks one kind's marks by x and counts them per bucket.
func lane(kind string, rows []audit.Row, s timeScale, y int, now time.Time, warnDays int, titled bool) Lane {
	l := Lane{Label: kind, Y: y, H: laneHeight - 4, Count: len(rows)}
	stack := map[int]int{}
	groups := map[string]*MarkGroup{}
	buckets := map[int]int{}
	for _, r := range rows {
		x := s.x(r.NotAfter)
		col := int(x)
		m := Mark{X: fx(x - markSize/2.0), Y: y + 3 + (stack[col]%markStack)*markSize}
		stack[col]++
		buckets[int(x-plotLeft)/bucketWidth]++
		if titled {
			m.Title = fmt.Sprintf("%s %s %s: %s, %d days left (%s)", r.Host, clean(r.File), clean(r.Subject), r.NotAfter.UTC().Format(time.DateOnly), daysLeft(r.NotAfter, now), r.Status)
		}
		cl := statusClass(r, now, warnDays)
		if groups[cl] == nil {
			groups[cl] = &MarkGroup{Class: cl}
		}
		groups[cl].Marks = append(groups[cl].Marks, m)
	}
	for _, cl := range statusClasses {
		if g := groups[cl]; g != nil {
			l.Groups = append(l.Groups, *g)
		}
	}
	keys := make([]int, 0, len(buckets))
	for b := range buckets {
		keys = append(keys, b)
	}
	slices.Sort(keys)
	span := s.t1.Sub(s.t0)
	for _, b := range keys {
		x0 := float64(plotLeft + b*bucketWidth)
		from := s.t0.Add(time.Duration((x0 - plotLeft) / (plotRight - plotLeft) * float64(span)))
		to := s.t0.Add(time.Duration((x0 + bucketWidth - plotLeft) / (plotRight - plotLeft) * float64(span)))
		l.Buckets = append(l.Buckets, Bucket{X: fx(x0), W: fx(bucketWidth), Title: fmt.Sprintf("%d %s expiring %s to %s", buckets[b], kind,
			from.UTC().Format(time.DateOnly), to.UTC().Format(time.DateOnly))})
	}
	return l
}

// ticks marks the first of a month every 1, 3, 6, 12, 24, 60 or 120
// months, the first step giving at most 10 ticks.
func ticks(s timeScale) []Tick {
	var out []Tick
	for _, step := range []int{1, 3, 6, 12, 24, 60, 120} {
		out = out[:0]
		t := time.Date(s.t0.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		for ; !t.After(s.t1); t = t.AddDate(0, step, 0) {
			if !t.Before(s.t0) {
				label := t.Format("2006-01")
				if step >= 12 {
					label = t.Format("2006")
				}
				out = append(out, Tick{X: fx(s.x(t)), Label: label})
			}
		}
		if len(out) <= 10 {
			break
		}
	}
	return out
}
