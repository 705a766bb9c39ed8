package lint

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/internal/testlayout"
	"github.com/libvirt-pki/libvirt-pki/kolla"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
	"github.com/libvirt-pki/libvirt-pki/verify"
)

// The objects each layout's tree holds after `certificates --hosts
// compute01` (per-host mode) and `revoke`: the walk must find every one.
var layoutObjects = map[string][]string{
	"kolla": {"(ca) cacert.pem", "(ca) cacrl.pem", "(shared) cacert.pem", "(shared) cacrl.pem",
		"compute01 servercert.pem", "compute01 clientcert.pem"},
	"libvirt": {"(ca) cacert.pem", "(ca) cacrl.pem", "compute01 etc/pki/CA/cacert.pem", "compute01 etc/pki/CA/cacrl.pem",
		"compute01 etc/pki/libvirt/servercert.pem", "compute01 etc/pki/libvirt/clientcert.pem",
		"compute01 etc/pki/qemu/ca-cert.pem", "compute01 etc/pki/qemu/ca-crl.pem",
		"compute01 etc/pki/qemu/server-cert.pem", "compute01 etc/pki/qemu/client-cert.pem",
		"compute01 etc/pki/libvirt-vnc/ca-cert.pem", "compute01 etc/pki/libvirt-vnc/ca-crl.pem", "compute01 etc/pki/libvirt-vnc/server-cert.pem",
		"compute01 etc/pki/libvirt-spice/ca-cert.pem", "compute01 etc/pki/libvirt-spice/ca-crl.pem", "compute01 etc/pki/libvirt-spice/server-cert.pem",
		"proxy01 etc/pki/nova-novncproxy/ca-cert.pem", "proxy01 etc/pki/nova-novncproxy/client-cert.pem"},
	"pkipath": {"(ca) cacert.pem", "(ca) cacrl.pem", "compute01 cacert.pem", "compute01 clientcert.pem", "compute01 cacrl.pem"},
}

// TestNoRFCFindingsOnOurTrees lints a tree made by the certificates
// engine, with a CRL from revoke, for each key algorithm, mode and
// layout: zlint's RFC lints find nothing at all (issue 12's key-usage
// policy, CRL number and authority key identifier).
func TestNoRFCFindingsOnOurTrees(t *testing.T) {
	for _, algo := range pki.KeyAlgos {
		t.Run(string(algo), func(t *testing.T) {
			t.Parallel()
			// The seed's files must outlive the subtest that made them.
			seed, base := keySeed{}, t.TempDir()
			for _, shared := range []bool{false, true} {
				for _, l := range layout.Layouts {
					t.Run(modeName(shared)+"/"+l.Name, func(t *testing.T) {
						tree := seed.issue(t, filepath.Join(base, modeName(shared), l.Name), l, algo, shared)
						rep, err := Run(Options{Tree: tree})
						if err != nil {
							t.Fatal(err)
						}
						if !shared {
							checkObjects(t, rep, layoutObjects[l.Name])
						}
						checkLeavesLinted(t, rep, l)
						checkFindings(t, rep, nil)
					})
				}
			}
		})
	}
}

func modeName(shared bool) string {
	if shared {
		return "shared"
	}
	return "per-host"
}

// checkLeavesLinted: every leaf kind the layout holds and a CRL were
// linted.
func checkLeavesLinted(t *testing.T, rep *Report, l layout.Layout) {
	t.Helper()
	roles := map[string]bool{}
	for _, o := range rep.Objects {
		roles[o.Role] = true
	}
	for _, k := range credential.Leaves(l) {
		if !roles[string(k.Cert)] {
			t.Errorf("no %s linted", k.Cert)
		}
	}
	if !roles[RoleCRL] {
		t.Error("no CRL linted")
	}
}

// keySeed keeps the CA and leaf keys of a key algorithm's first tree, so
// the other layouts reuse them (certificates keeps an existing key of the
// right algorithm) instead of generating RSA keys again.
type keySeed struct {
	caDir string
	keys  map[layout.Role]string // role -> a key file of the first tree
}

// issue makes layout l's tree in dir with host compute01 (per host, or
// the shared pair) and a CRL (revoking compute01's certificates, or a
// serial), with the seed's CA and keys when it has them.
func (s *keySeed) issue(t *testing.T, dir string, l layout.Layout, algo pki.KeyAlgo, shared bool) layout.Tree {
	tree := layout.Tree{Layout: l, Root: filepath.Join(dir, "out")}
	tree.CADir = layout.OutCADir(tree.Root)
	if l.ConfigRooted {
		tree.Root, tree.CADir = kolla.NovaLibvirtDir(dir, ""), kolla.CADir(dir)
	}
	host := tree.HostUnit("compute01")
	keyUnit := host
	if shared && l.SharedDirAll {
		keyUnit = tree.SharedDir()
	}
	if s.caDir != "" {
		copyFile(t, filepath.Join(s.caDir, "cacert.pem"), filepath.Join(tree.CADir, "cacert.pem"))
		copyFile(t, filepath.Join(s.caDir, "cakey.pem"), filepath.Join(tree.CADir, "cakey.pem"))
		for role, src := range s.keys {
			if l.Has(role) {
				copyFile(t, src, tree.In(keyUnit, role))
			}
		}
	}
	hosts, err := layout.ParseHosts(nil, []string{"compute01"}, "")
	if err != nil {
		t.Fatal(err)
	}
	o := certs.Options{Layout: l, Root: tree.Root, CADir: tree.CADir, Hosts: hosts, Algo: algo, Shared: shared, Sets: setsHeld(l)}
	if len(credential.Selected(l, o.Sets, credential.Proxy)) > 0 {
		o.ProxyHosts, err = layout.ParseHosts(nil, []string{"proxy01"}, "")
		if err != nil {
			t.Fatal(err)
		}
	}
	testlayout.Issue(t, o)
	ro := certs.RevokeOptions{Layout: l, Root: tree.Root, CADir: tree.CADir, Hosts: []string{"compute01"}, CRLDays: 30}
	if shared {
		ro.Hosts, ro.Serials = nil, []string{"1f2e3d"}
	}
	if _, err := certs.Revoke(ro); err != nil {
		t.Fatal(err)
	}
	if s.caDir == "" {
		s.caDir, s.keys = tree.CADir, map[layout.Role]string{}
		for _, f := range l.Files {
			if f.Role.IsKey() {
				s.keys[f.Role] = tree.In(host, f.Role)
			}
		}
	}
	return tree
}

// setsHeld is every credential set layout l can hold, so every kind is
// linted.
func setsHeld(l layout.Layout) []string {
	var sets []string
	for _, name := range credential.SetNames() {
		if credential.CheckLayout(l, []string{name}) == nil {
			sets = append(sets, name)
		}
	}
	return sets
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func findingKey(o Object, lint string) string {
	return o.Unit + " " + o.File + " #" + strconv.Itoa(o.Index) + " " + lint
}

func checkObjects(t *testing.T, rep *Report, want []string) {
	t.Helper()
	var got []string
	for _, o := range rep.Objects {
		got = append(got, o.Unit+" "+o.File)
	}
	if !sameSet(got, want) {
		t.Errorf("objects linted:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// checkFindings compares the findings with want exactly, and checks that
// each severity is the one zlint's name prefix says (e_, w_, n_).
func checkFindings(t *testing.T, rep *Report, want []string) {
	t.Helper()
	var got []string
	prefix := map[verify.Severity]string{verify.Error: "e_", verify.Warning: "w_", verify.Info: "n_"}
	for _, f := range rep.Findings {
		got = append(got, findingKey(f.Object, f.Lint))
		if !strings.HasPrefix(f.Lint, prefix[f.Severity]) || f.Source == "" || f.Description == "" {
			t.Errorf("%s: severity %s, source %q, description %q", f.Lint, f.Severity, f.Source, f.Description)
		}
	}
	if !sameSet(got, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestBundleIndex: each certificate of a bundle is linted and reported
// with its place in the file.
func TestBundleIndex(t *testing.T) {
	tree := bundledCATree(t)
	caFile := tree.In(tree.HostUnit("compute01"), layout.CACert)
	rep, err := Run(Options{Tree: tree})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range rep.Objects {
		if o.Path == caFile {
			got = append(got, strconv.Itoa(o.Index)+" "+o.Subject)
		}
	}
	if want := []string{"0 CN=libvirt-pki CA", "1 CN=libvirt-pki CA"}; !slices.Equal(got, want) {
		t.Errorf("%s: objects %q, want %q", caFile, got, want)
	}
}

// bundledCATree issues a pkipath tree whose compute01 CA file holds its
// CA twice, a bundle of two certificates.
func bundledCATree(t *testing.T) layout.Tree {
	t.Helper()
	var seed keySeed
	tree := seed.issue(t, t.TempDir(), layout.PKIPath, pki.ECDSAP256, false)
	caFile := tree.In(tree.HostUnit("compute01"), layout.CACert)
	data, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, caFile, string(data)+string(data))
	return tree
}
