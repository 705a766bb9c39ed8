package report

import (
	"bytes"
	"context"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/verify"
)

// Every value of a row is escaped for HTML text and for the quoted
// data-host attribute: markup, quotes and ampersands come out as
// entities that read back as the value.
func TestHostRowsEscapeEveryValue(t *testing.T) {
	hostile := func(field string) string { return field + `<script>alert("x")</script>'&` }
	c := Credential{Kind: hostile("kind"), File: hostile("file"), Source: hostile("source"), Subject: hostile("subject"),
		SANs: hostile("sans"), Issuer: hostile("issuer"), KeyAlgo: hostile("key"), Usage: hostile("usage"),
		Mode: hostile("mode"), Status: hostile("status"), Dated: true, NotAfter: time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC), DaysLeft: 3}
	out := string(hostRows([]Host{{Name: hostile("host"), Credentials: []Credential{c, c}}, {Name: hostile("empty")}}))
	if strings.Contains(out, "<script") || strings.Contains(out, `"x"`) || strings.Contains(out, "'&") {
		t.Fatalf("unescaped markup in the rows:\n%s", out)
	}
	for _, v := range []string{"host", "kind", "file", "source", "subject", "sans", "issuer", "key", "usage", "mode", "status", "empty"} {
		want := html.EscapeString(hostile(v))
		if !strings.Contains(out, want) || html.UnescapeString(esc(hostile(v))) != hostile(v) {
			t.Errorf("the rows do not hold %s as escaped text %q", v, want)
		}
	}
	if n := strings.Count(out, `data-host="host&lt;script&gt;`); n != 2 {
		t.Errorf("%d rows carry the escaped host in data-host, want 2", n)
	}
	if !strings.Contains(out, "<td>2027-01-02</td><td>3</td>") || strings.Count(out, "<tr ") != 3 || strings.Count(out, "hfirst") != 2 {
		t.Errorf("rows: want two credentials (dated) and one host with no files:\n%s", out)
	}
	if got := esc("plain compute01.example.org"); got != "plain compute01.example.org" {
		t.Errorf("esc changed a plain value: %q", got)
	}
}

// Reading the tree once (one fsutil.Files shared by verify, audit, lint
// and the page, as the command does) writes the same page as verify
// reading each file from disk beside Collect's own Files (fsutil's tests
// hold Files to the package functions' answers).
func TestSharedFilesWriteTheSamePage(t *testing.T) {
	root, caDir, _ := kollaTree(t, 12)
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	page := func(files *fsutil.Files) []byte {
		check := func() (*verify.Report, error) {
			return verify.Offline(verify.Options{Layout: layout.Kolla, Root: root, WarnDays: 30, Now: now, Files: files})
		}
		m, err := Collect(context.Background(), Options{Tree: layout.Tree{Layout: layout.Kolla, Root: root, CADir: caDir, Files: files},
			Verify: check, Now: now, WarnDays: 30, Lint: true})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := m.WriteHTML(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	direct, shared := page(nil), page(fsutil.NewFiles())
	if !bytes.Equal(direct, shared) {
		t.Errorf("the page read through one Files differs from the page read file by file (%d and %d bytes)", len(shared), len(direct))
	}
	if !bytes.Contains(shared, []byte(`data-host="compute00011"`)) {
		t.Error("the page has no row for compute00011")
	}
}
