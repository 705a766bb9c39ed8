package report

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/libvirt-pki/libvirt-pki/audit"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/untrusted"
	"github.com/libvirt-pki/libvirt-pki/verify"
)

// findings are verify's, lint's and the files audit or lint could not
// read that verify did not name, most severe first.
func (in input) findings() []Finding {
	var out []Finding
	for _, f := range in.verify.Findings {
		out = append(out, Finding{Severity: string(f.Severity), Code: string(f.Code), Source: "verify", Host: f.Host, File: clean(f.File),
			Message: cleanText(f.Message), Fix: cleanText(fixOf(f.Message, string(f.Code)))})
	}
	if in.lint != nil {
		for _, f := range in.lint.Findings {
			msg := f.Description
			if f.Details != "" {
				msg += " (" + f.Details + ")"
			}
			fix := "re-issue the certificate without the fault (libvirt-pki certificates --force for one it made)"
			if f.Citation != "" {
				fix += "; see " + f.Citation
			}
			out = append(out, Finding{Severity: string(f.Severity), Code: f.Lint, Source: "lint", Host: f.Unit,
				File: clean(fmt.Sprintf("%s #%d", f.File, f.Index)), Message: cleanText(msg), Fix: cleanText(fix)})
		}
	}
	if in.lintErr != "" {
		out = append(out, Finding{Severity: string(verify.Warning), Code: "lint-not-run", Source: "report", Host: "(ca)",
			Message: cleanText(in.lintErr), Fix: "fix the files named, or run libvirt-pki lint to see why"})
	}
	out = append(out, in.skippedFindings()...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ra, rb := verify.Severity(a.Severity).Rank(), verify.Severity(b.Severity).Rank(); ra != rb {
			return ra > rb
		}
		for _, p := range [][2]string{{a.Host, b.Host}, {a.File, b.File}, {a.Code, b.Code}, {a.Source, b.Source}, {a.Message, b.Message}} {
			if p[0] != p[1] {
				return p[0] < p[1]
			}
		}
		return false
	})
	return out
}

// skippedFindings are the files audit or lint skipped that no verify
// finding names (the CA directory's, say).
func (in input) skippedFindings() []Finding {
	paths := make([]string, 0, len(in.skipped))
	for p := range in.skipped {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var out []Finding
	for _, p := range paths {
		named := false
		for _, f := range in.verify.Findings {
			if strings.Contains(f.Message, p) {
				named = true
				break
			}
		}
		if !named {
			out = append(out, Finding{Severity: string(verify.Error), Code: string(verify.CodeUnreadable), Source: "report",
				Host: unitOf(p, in.opts.Tree.Root, in.opts.Tree.CADir), File: clean(baseName(p)), Message: cleanText(in.skipped[p]),
				Fix: "replace the file with a readable PEM certificate (libvirt-pki certificates re-creates what it made)"})
		}
	}
	return out
}

// unitOf names the directory a skipped file is in as reports do.
func unitOf(path, root, caDir string) string {
	dir := filepath.Dir(path)
	switch {
	case caDir != "" && strings.HasPrefix(path, caDir+string(filepath.Separator)):
		return "(ca)"
	case dir == root:
		return "(shared)"
	case filepath.Dir(dir) == root:
		return filepath.Base(dir)
	}
	return "(shared)"
}

// fixVerbs start the remedy in verify's messages ("...: renew it").
var fixVerbs = []string{"run ", "renew ", "re-issue", "reissue", "add ", "remove ", "check ", "replace ", "chmod ", "chown ",
	"restart ", "deploy ", "give ", "set ", "use ", "make ", "stop ", "move ", "delete ", "put ", "copy ", "keep ", "create ",
	"write ", "edit ", "re-run", "rerun ", "regenerate ", "revoke ", "drop ", "fix ", "have ", "rotate "}

// fixByCode is the remedy for a code whose message names none.
var fixByCode = map[string]string{
	string(verify.CodeRevoked):    "re-issue the host's certificate (libvirt-pki certificates --force --host NAME) and deploy it",
	string(verify.CodeUnreadable): "replace the file with a readable one (libvirt-pki certificates re-creates what it made)",
	string(verify.CodeChain):      "re-issue the certificate from the CA in cacert.pem (libvirt-pki certificates --force)",
}

// fixOf takes the remedy out of a verify message: the text after the
// first ": " or "; " that starts with a verb, else the code's remedy.
func fixOf(msg, code string) string {
	for i := 0; i+2 < len(msg); i++ {
		if (msg[i] != ':' && msg[i] != ';') || msg[i+1] != ' ' {
			continue
		}
		tail := msg[i+2:]
		for _, v := range fixVerbs {
			if strings.HasPrefix(tail, v) {
				return tail
			}
		}
	}
	return fixByCode[code]
}

// live lists verify's logins with what each server presents versus the
// files (verify's live-stale finding).
func (in input) live() []Live {
	stale := map[string]bool{}
	for _, f := range in.verify.Findings {
		if f.Code == verify.CodeLiveStale {
			stale[f.Host+" "+f.File] = true
		}
	}
	var out []Live
	for _, r := range in.verify.Live {
		l := Live{Host: r.Target.Host, Addr: r.Target.Addr, Service: r.Target.Service, Class: string(r.Class), Error: r.Err, TLS: r.TLSVersion}
		if l.Service == "" {
			l.Service = "libvirtd"
		}
		switch {
		case r.ServerCert == nil:
			l.Served = "nothing presented"
		case stale[r.Target.Host+" "+r.Target.Addr]:
			l.Served = "differs from the files (stale: restart the server)"
		default:
			l.Served = "the certificate in the files"
		}
		if !r.ServerCertNotAfter.IsZero() {
			l.NotAfter = r.ServerCertNotAfter.UTC().Format(time.DateOnly)
		}
		out = append(out, l)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Host != out[j].Host {
			return out[i].Host < out[j].Host
		}
		return out[i].Addr < out[j].Addr
	})
	return out
}

// summary counts what the page shows.
func (in input) summary(m *Model) Summary {
	s := Summary{Hosts: in.verify.Summarize(verify.Error).Hosts, CAs: len(m.CAs), Rotation: m.Rotation.State}
	for _, r := range in.rows {
		switch r.Kind {
		case "crl":
			s.CRLs++
		case "live":
		default:
			s.Certificates++
		}
		switch r.Status {
		case audit.Expired:
			s.Expired++
		case audit.Expiring:
			s.Expiring++
		case audit.NotYetValid:
			s.NotYetValid++
		case audit.Revoked:
			s.Revoked++
		}
	}
	for i, f := range m.Findings {
		switch verify.Severity(f.Severity) {
		case verify.Error:
			s.Errors++
		case verify.Warning:
			s.Warnings++
		default:
			s.Notices++
		}
		if i == 0 {
			s.Worst = &m.Findings[0]
		}
	}
	for _, r := range in.rows {
		if r.Kind != "crl" && r.Kind != "live" && r.NotAfter.After(in.opts.Now) {
			c := in.credential(r.Host, "", "", &r)
			s.NextExpiry = &c
			break
		}
	}
	return s
}

func itoa(i int) string { return strconv.Itoa(i) }

// maxText bounds a finding's message on the page (paths and subjects in
// it included).
const maxText = 4096

// clean makes a name from the tree (a subject, a SAN, a file name) one
// visible line: control and format characters become escapes
// (untrusted.Clean); html/template then escapes the markup.
func clean(s string) string { return untrusted.Clean(s, untrusted.MaxText) }

// cleanText is clean for a message.
func cleanText(s string) string { return untrusted.Clean(s, maxText) }

func baseName(p string) string { return filepath.Base(p) }

// modeOf is a file's permission bits, "" when it cannot be read.
func modeOf(files *fsutil.Files, path string) string {
	fi, err := files.Lstat(path)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%04o", fi.Mode().Perm())
}
