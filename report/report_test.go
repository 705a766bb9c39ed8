package report

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/audit"
)

func TestFixOf(t *testing.T) {
	for _, c := range []struct{ msg, code, want string }{
		{"servercert.pem expired on 2026-11-01: renew it (libvirt-pki certificates)", "expired", "renew it (libvirt-pki certificates)"},
		{"a.pem and b.pem are not a pair: re-issue with libvirt-pki certificates", "key-mismatch", "re-issue with libvirt-pki certificates"},
		{"libvirtd at h:16514 presents serial 1, but x: y holds serial 2: the files were renewed; restart libvirtd", "live-stale-certificate", "restart libvirtd"},
		{"x.pem: open x.pem: permission denied", "unreadable-file", fixByCode["unreadable-file"]},
		{"something odd", "no-such-code", ""},
	} {
		if got := fixOf(c.msg, c.code); got != c.want {
			t.Errorf("fixOf(%q) = %q; want %q", c.msg, got, c.want)
		}
	}
}

func TestDaysLeft(t *testing.T) {
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		d    time.Duration
		want int
	}{{0, 0}, {23 * time.Hour, 0}, {24 * time.Hour, 1}, {-time.Hour, -1}, {-24 * time.Hour, -1}, {-25 * time.Hour, -2}} {
		if got := daysLeft(now.Add(c.d), now); got != c.want {
			t.Errorf("daysLeft(now%+v) = %d; want %d", c.d, got, c.want)
		}
	}
}

// The chart has one mark per row, coloured by status and days left, and
// titles only up to TitledMarks marks.
func TestChartMarks(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	row := func(kind string, left time.Duration, st audit.Status) audit.Row {
		return audit.Row{Host: "h", File: "f.pem", Kind: kind, NotBefore: now.Add(-day), NotAfter: now.Add(left), Status: st}
	}
	rows := []audit.Row{row("server", -day, audit.Expired), row("server", 10*day, audit.Expiring), row("client", 60*day, audit.OK),
		row("client", 400*day, audit.OK), row("client", 400*day, audit.Revoked), row("crl", 20*day, audit.Expiring), row("ca", 900*day, audit.OK)}
	c := chart(rows, []CA{{Subject: "CA", Role: "current", NotBefore: now.Add(-day), NotAfter: now.Add(900 * day), Status: "ok"}}, now, 30)
	count := map[string]int{}
	var lanes []string
	for _, l := range c.Lanes {
		lanes = append(lanes, l.Label)
		for _, g := range l.Groups {
			count[g.Class] += len(g.Marks)
			for _, m := range g.Marks {
				if m.Title == "" {
					t.Errorf("a mark of a small chart has no title")
				}
			}
		}
	}
	if got := strings.Join(lanes, " "); got != "ca server client crl" {
		t.Errorf("lanes %q; want ca, the kinds in table order, then crl", got)
	}
	want := map[string]int{"ex": 1, "wa": 2, "so": 1, "ok": 2, "rv": 1}
	if fmt.Sprint(count) != fmt.Sprint(want) || c.Marks != len(rows) || len(c.Bands) != 1 {
		t.Errorf("marks by class %v (total %d), bands %d; want %v, %d, 1", count, c.Marks, len(c.Bands), want, len(rows))
	}
	many := make([]audit.Row, TitledMarks+1)
	for i := range many {
		many[i] = row("server", time.Duration(i)*time.Hour, audit.OK)
	}
	for _, g := range chart(many, nil, now, 30).Lanes[0].Groups {
		for _, m := range g.Marks {
			if m.Title != "" {
				t.Fatal("a mark of a large chart has a title")
			}
		}
	}
}

// Hosts are cut into groups of GroupSize, the pseudo-hosts first in a
// group of their own on large trees.
func TestGroups(t *testing.T) {
	hosts := []Host{{Name: "(ca)"}, {Name: "(shared)"}}
	for i := range 2*GroupSize + 1 {
		hosts = append(hosts, Host{Name: fmt.Sprintf("compute%03d", i), Errors: i % 2})
	}
	gs := groups(hosts)
	if len(gs) != 4 || len(gs[0].Hosts) != 2 || gs[1].First != "compute000" || len(gs[3].Hosts) != 1 || gs[1].Open {
		t.Errorf("groups: %d, first %d hosts, second from %s", len(gs), len(gs[0].Hosts), gs[1].First)
	}
	if gs[1].Errors != GroupSize/2 {
		t.Errorf("group errors %d; want %d", gs[1].Errors, GroupSize/2)
	}
	if small := groups(hosts[:5]); len(small) != 1 || !small[0].Open {
		t.Errorf("a small tree: %d groups; want one, unfolded", len(small))
	}
}
