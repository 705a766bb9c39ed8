package certmonger

import (
	"crypto/x509"
	"fmt"
	"io/fs"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// IDPrefix starts the ID of every request enroll makes: unenroll, verify
// and expiry know ours by it.
const IDPrefix = "libvirt-pki-"

// Request is one certificate certmonger is asked to keep: a leaf kind
// of the host layout, its files and their owners and modes from the
// layout table, the key certmonger makes for it, its names, the profile
// the helper signs it with, the CA copy of its set, and the post-save
// command.
type Request struct {
	ID, CA              string
	Kind                credential.Kind
	CertFile, KeyFile   string
	CAFile              string // "" when the set has no CA copy
	CAMode              fs.FileMode
	Subject             string // CN=...
	DNS, IPs            []string
	KeyType             string // RSA or EC (getcert -G)
	KeyBits             int
	KeyOwner, CertOwner string // user:group
	KeyMode, CertMode   fs.FileMode
	PostSave            string
}

// PlanOptions say what to enroll.
type PlanOptions struct {
	Layout   layout.Layout // the host layout (layout.Libvirt)
	Root     string        // the host's root ("/")
	Sets     []string
	Host     layout.Host
	Algo     pki.KeyAlgo
	CA       string // certmonger's name for our CA
	PostSave string // the post-save command line
	// KeepCAFiles leaves the CA copies alone (no getcert -F): while a
	// migration's peers still present certificates of another CA, the
	// bundle the deploy host wrote must stay.
	KeepCAFiles bool
}

// Plan lists the requests for every leaf kind of the sets the layout
// holds, in the order of credential.Kinds.
func Plan(o PlanOptions) ([]Request, error) {
	keyType, bits, err := keyArgs(o.Algo)
	if err != nil {
		return nil, err
	}
	var out []Request
	for _, k := range append(credential.Selected(o.Layout, o.Sets, credential.Compute), credential.Selected(o.Layout, o.Sets, credential.Proxy)...) {
		if !k.PerHost || !o.Layout.Has(k.Key) {
			continue
		}
		cert, _ := o.Layout.Spec(k.Cert)
		key, _ := o.Layout.Spec(k.Key)
		r := Request{ID: IDPrefix + k.Name, CA: o.CA, Kind: k,
			CertFile: filepath.Join(o.Root, cert.Rel), KeyFile: filepath.Join(o.Root, key.Rel),
			Subject: "CN=" + k.CommonName(o.Host.Name), KeyType: keyType, KeyBits: bits,
			KeyOwner: key.OwnerName() + ":" + key.GroupName(), CertOwner: cert.OwnerName() + ":" + cert.GroupName(),
			KeyMode: key.Mode, CertMode: cert.Mode, PostSave: o.PostSave}
		if ca, ok := caCopy(o.Layout, k.Set); ok && !o.KeepCAFiles {
			r.CAFile, r.CAMode = filepath.Join(o.Root, ca.Rel), ca.Mode
		}
		sans := k.SANs(o.Host)
		r.DNS = slices.Clone(sans.DNS)
		for _, ip := range sans.IPs {
			r.IPs = append(r.IPs, ip.String())
		}
		out = append(out, r)
	}
	return out, nil
}

// caCopy is the layout's file of set's CA copy.
func caCopy(l layout.Layout, set string) (layout.FileSpec, bool) {
	for _, k := range credential.Kinds {
		if k.Set == set && k.IsCA() {
			return l.Spec(k.Cert)
		}
	}
	return layout.FileSpec{}, false
}

// keyArgs are getcert's -G and -g for a key algorithm.
func keyArgs(a pki.KeyAlgo) (string, int, error) {
	s := string(a)
	i := strings.LastIndexAny(s, "-p")
	bits, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return "", 0, fmt.Errorf("key algorithm %q: no size", a)
	}
	if a.Family() == pki.RSAKeys {
		return "RSA", bits, nil
	}
	return "EC", bits, nil
}

// extUsageName is getcert -U's name for a profile's extended key usage.
func extUsageName(p pki.Profile) string {
	if p.ExtUsage == x509.ExtKeyUsageServerAuth {
		return "id-kp-serverAuth"
	}
	return "id-kp-clientAuth"
}

// Args is the getcert request command line for r (without the bus
// option): certmonger makes the key here, at KeyFile, with the owner and
// mode asked for, and saves the certificate and the CA's roots.
func (r Request) Args() []string {
	args := []string{"request", "-I", r.ID, "-c", r.CA, "-f", r.CertFile, "-k", r.KeyFile,
		"-G", r.KeyType, "-g", strconv.Itoa(r.KeyBits),
		"-o", r.KeyOwner, "-m", fmt.Sprintf("%04o", r.KeyMode), "-O", r.CertOwner, "-M", fmt.Sprintf("%04o", r.CertMode)}
	return append(args, r.settings()...)
}

// settings are the options request, resubmit and rekey share: the
// names, the profile, the CA copy and the post-save command.
func (r Request) settings() []string {
	args := []string{"-N", r.Subject, "-T", r.Kind.Profile.Name, "-U", extUsageName(r.Kind.Profile)}
	for _, d := range r.DNS {
		args = append(args, "-D", d)
	}
	for _, ip := range r.IPs {
		args = append(args, "-A", ip)
	}
	if r.CAFile != "" {
		args = append(args, "-F", r.CAFile)
	}
	if r.PostSave != "" {
		args = append(args, "-C", r.PostSave)
	}
	return args
}

// Change is what a tracked request needs to become r.
type Change int

// The changes, least first.
const (
	Unchanged Change = iota
	Resubmit         // new names, profile, CA copy or post-save command: same key, new certificate
	Rekey            // another key algorithm: new key, new certificate
	Replace          // other files or CA: stop tracking, request anew
)

// Compare says how certmonger's request t (and its certificate, cert,
// nil before one is issued) differs from r: getcert list shows the
// files, the CA, the profile and the post-save command; the certificate
// shows the names and the key.
func (r Request) Compare(t Tracked, cert *x509.Certificate) Change {
	switch {
	case t.CertFile != r.CertFile || t.KeyFile != r.KeyFile || t.CA != r.CA:
		return Replace
	case cert != nil && !r.keyMatches(cert):
		return Rekey
	case t.Profile != r.Kind.Profile.Name || t.PostSave != r.PostSave || cert != nil && !r.namesMatch(cert):
		return Resubmit
	}
	return Unchanged
}

func (r Request) keyMatches(cert *x509.Certificate) bool {
	typ, bits, err := keyArgs(pki.AlgoOf(cert.PublicKey))
	return err == nil && typ == r.KeyType && bits == r.KeyBits
}

func (r Request) namesMatch(cert *x509.Certificate) bool {
	want := append(slices.Clone(r.DNS), r.IPs...)
	for i := range want {
		want[i] = strings.ToLower(want[i])
	}
	slices.Sort(want)
	have := slices.Sorted(slices.Values(pki.SANsOf(cert).Strings()))
	return slices.Equal(have, slices.Compact(want)) && "CN="+cert.Subject.CommonName == r.Subject
}

// ChangeArgs is the getcert command line that makes a tracked request
// into r: resubmit, or rekey, with every setting they can change.
func (r Request) ChangeArgs(c Change) []string {
	args := []string{"resubmit", "-i", r.ID}
	if c == Rekey {
		args = []string{"rekey", "-i", r.ID, "-G", r.KeyType, "-g", strconv.Itoa(r.KeyBits)}
	}
	return append(args, r.settings()...)
}

// AddCAArgs is the getcert command line that registers our helper.
func AddCAArgs(name, helper string) []string {
	return []string{"add-ca", "-c", name, "-e", helper}
}

// ShellQuote quotes one word for a shell command line (the helper's and
// the post-save command certmonger stores, and --dry-run's output).
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,@+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// FallBackOwners gives root the files whose table owner or group does
// not exist on this host (getcert refuses an unknown one: a Debian host
// has no qemu group, a compute host no nova user), as install does, and
// says so in one note each.
func FallBackOwners(reqs []Request) (notes []string) {
	for i := range reqs {
		for _, o := range []struct {
			owner *string
			file  string
		}{{&reqs[i].KeyOwner, reqs[i].KeyFile}, {&reqs[i].CertOwner, reqs[i].CertFile}} {
			usr, grp, _ := strings.Cut(*o.owner, ":")
			if _, err := user.Lookup(usr); err != nil {
				notes = append(notes, fmt.Sprintf("%s: user %s does not exist on this host: owned by root (create the user and run enroll again)", o.file, usr))
				usr = "root"
			}
			if _, err := user.LookupGroup(grp); err != nil {
				notes = append(notes, fmt.Sprintf("%s: group %s does not exist on this host: group root (create the group and run enroll again)", o.file, grp))
				grp = "root"
			}
			*o.owner = usr + ":" + grp
		}
	}
	return notes
}
