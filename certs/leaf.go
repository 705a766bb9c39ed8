package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/libvirt-pki/libvirt-pki/errs"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// Leaf is the one record of a leaf certificate, whatever the command:
// where its files go, what was found there, what the run decided, and
// (after Apply) what it issued. Every policy (certificates, renew,
// rotate-ca reissue) fills Leaves, and one pool issues and writes them.
type Leaf struct {
	Host        string     `json:"host"` // host name, SharedPair, or layout.SharedUnit (renew)
	Profile     string     `json:"profile"`
	File        string     `json:"file"` // the certificate, where first written
	Copies      []string   `json:"copies,omitempty"`
	Action      Action     `json:"action"`
	Reason      string     `json:"reason,omitempty"` // Reasons, joined
	Subject     string     `json:"subject,omitempty"`
	SANs        []string   `json:"sans"`
	OldNotAfter time.Time  `json:"old_not_after"`
	NewNotAfter *time.Time `json:"new_not_after,omitempty"`
	Key         string     `json:"key,omitempty"` // "kept" or "new" once decided
	Reasons     []string   `json:"-"`
	NewKey      bool       `json:"-"`

	kind    credential.Kind
	sans    pki.SANs
	cn, org string
	algo    pki.KeyAlgo // of a new key
	targets []target    // where cert and key go; the first is observed
	oldKey  *pki.Key
	old     *x509.Certificate
	// keepIdentity: the new certificate must carry the old one's DN and
	// SANs (renew), since tls_allowed_dn_list and clients match them.
	keepIdentity bool
}

type target struct{ cert, key string }

func (l *Leaf) reissue(reason string) { l.Reasons = append(l.Reasons, reason) }

// settle fills the report fields that follow from the decision.
func (l *Leaf) settle() {
	l.Reason = strings.Join(l.Reasons, "; ")
	switch {
	case l.Action != Create && l.Action != Reissue:
		l.Key = ""
	case l.NewKey || l.oldKey == nil:
		l.Key = "new"
	default:
		l.Key = "kept"
	}
}

// observed is one pair as found on disk.
type observed struct {
	unit     layout.Unit
	kind     credential.Kind
	t        target
	certPEM  []byte // nil when missing
	keyPEM   []byte // nil when missing
	cert     *x509.Certificate
	certErr  error    // the certificate did not parse
	key      *pki.Key // nil when missing or unreadable
	keyError error
}

// observe reads the pair at t, the key through keys. Only a path that is
// not a regular file, and a vaulted key keys cannot open, are errors:
// missing or unparsable files are facts for the policy.
func observe(u layout.Unit, k credential.Kind, t target, keys Keys) (observed, error) {
	o := observed{unit: u, kind: k, t: t}
	var err error
	if o.certPEM, err = readIfExists(t.cert, fsutil.LimitCert); err != nil {
		return o, err
	}
	if o.keyPEM, err = readIfExists(t.key, keyLimit); err != nil {
		return o, err
	}
	if o.certPEM != nil {
		var certs []*x509.Certificate
		if certs, o.certErr = pki.ParseCertsPEM(o.certPEM); o.certErr == nil {
			o.cert = certs[0]
		}
	}
	if o.keyPEM != nil {
		if o.key, o.keyError = keys.parse(t.key, o.keyPEM); errs.IsInput(o.keyError) {
			return o, o.keyError
		}
	}
	return o, nil
}

// scanLeaves reads every leaf certificate the tree holds, unit by unit
// (the shared directory first) and kind by kind; units without a given
// kind's certificate are left out.
func scanLeaves(tree layout.Tree, keys Keys) ([]observed, error) {
	units, err := treeUnits(tree)
	if err != nil {
		return nil, err
	}
	var out []observed
	for _, u := range units {
		for _, k := range credential.Leaves(tree.Layout) {
			ob, err := observe(u, k, target{tree.In(u, k.Cert), tree.In(u, k.Key)}, keys)
			if err != nil {
				return nil, err
			}
			if ob.certPEM == nil {
				continue
			}
			if ob.certErr != nil {
				return nil, inputErr("%s: %v", ob.t.cert, ob.certErr)
			}
			out = append(out, ob)
		}
	}
	return out, nil
}

// treeUnits is tree.Units as the engine's errors.
func treeUnits(tree layout.Tree) ([]layout.Unit, error) {
	if err := checkOutputDir(tree.Root); err != nil {
		return nil, err
	}
	units, err := tree.Units()
	if err != nil {
		if isNotExist(err) {
			return nil, inputErr("%s does not exist: nothing to work on (run certificates first)", tree.Root)
		}
		return nil, treeErr(err)
	}
	return units, nil
}

// treeErr sorts an error of walking a tree: the system's (a directory that
// cannot be read) as readErr does, and layout.Tree's own refusals (a
// symlinked host directory) as bad input.
func treeErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return readErr(err)
	}
	return errs.WrapInput(err)
}

// caFilesOf is tree.CAFiles as the engine's errors.
func caFilesOf(tree layout.Tree) ([]string, error) {
	if _, err := treeUnits(tree); err != nil {
		return nil, err
	}
	files, err := tree.CAFiles()
	if err != nil {
		return nil, treeErr(err)
	}
	// Only regular files: a FIFO or device named cacert.pem is refused
	// here, before anything reads it or writes over it.
	for _, f := range files {
		if fi, err := os.Lstat(f); err != nil {
			return nil, readErr(err)
		} else if !fi.Mode().IsRegular() {
			_, err := fsutil.ReadFile(f, fsutil.LimitCert) // says what it is
			return nil, readErr(err)
		}
	}
	return files, nil
}

// issuer issues leaves with one CA and stages them into one batch.
type issuer struct {
	ca        *pki.CA
	tree      layout.Tree
	batch     *stage
	keys      Keys // how keys are written
	days      int
	notBefore time.Time // zero: Issue's default
}

// issue signs l (with its old key or a new one) and stages its files at
// every target. Update leaves are copied, not re-signed. The key file is
// encoded once (is.keys), so every copy holds the same bytes.
func (is *issuer) issue(l *Leaf) error {
	certPEM, key, err := is.sign(l)
	if err != nil {
		return err
	}
	keyFile, err := is.keys.file(key)
	if err != nil {
		return err
	}
	for i, t := range l.targets {
		if (i > 0 || l.Action == Update) && sameFile(t.cert, certPEM) && is.keys.holds(t.key, key) {
			continue
		}
		if err := is.stagePair(t, certPEM, keyFile, key, l.kind); err != nil {
			return fmt.Errorf("%s %s: %w", l.Host, l.Profile, err)
		}
	}
	return nil
}

func (is *issuer) sign(l *Leaf) (certPEM []byte, key *pki.Key, err error) {
	if l.Action == Update {
		ob, err := observe(layout.Unit{}, l.kind, l.targets[0], is.keys)
		if err != nil {
			return nil, nil, err
		}
		if ob.key == nil {
			return nil, nil, inputErr("%s: %v", l.targets[0].key, ob.keyError)
		}
		return ob.certPEM, ob.key, nil
	}
	key = l.oldKey
	if l.NewKey || key == nil {
		if key, err = pki.GenerateKey(l.algo); err != nil {
			return nil, nil, err
		}
	}
	cert, certPEM, err := is.ca.Issue(pki.LeafRequest{
		Profile: l.kind.Profile, CommonName: l.cn, Org: l.org, SANs: l.sans, Key: key, Days: is.days, NotBefore: is.notBefore,
	})
	if err != nil {
		return nil, nil, err
	}
	if l.keepIdentity {
		oldDN, _ := pki.GnuTLSDN(l.old)
		newDN, _ := pki.GnuTLSDN(cert)
		if oldDN != newDN || !slices.Equal(pki.SANsOf(cert).Strings(), l.SANs) {
			return nil, nil, fmt.Errorf("%s: renewed certificate's subject %q or SANs differ from the old %q; nothing written for it", l.File, newDN, oldDN)
		}
	}
	na := cert.NotAfter
	l.NewNotAfter = &na
	return certPEM, key, nil
}

// stagePair stages the key file before the certificate, each with the
// mode its layout gives it; a file that already holds its contents (the
// key: key, as is.keys writes it) only gets its mode.
func (is *issuer) stagePair(t target, certPEM, keyFile []byte, key *pki.Key, k credential.Kind) error {
	certSpec, _ := is.tree.Layout.Spec(k.Cert)
	keySpec, _ := is.tree.Layout.Spec(k.Key)
	for _, f := range []struct {
		path string
		data []byte
		spec layout.FileSpec
	}{{t.key, keyFile, keySpec}, {t.cert, certPEM, certSpec}} {
		if err := is.batch.mkdirsIn(is.tree, f.path); err != nil {
			return err
		}
		if f.path == t.key && is.keys.holds(t.key, key) {
			if err := fixMode(t.key, f.spec.Mode); err != nil {
				return err
			}
			continue
		}
		if err := stageIfChanged(is.batch, f.path, f.data, f.spec.Mode); err != nil {
			return err
		}
	}
	return nil
}

// issueAll runs issue over the leaves marked for it on workers goroutines
// and returns the first error; it stops handing out work after one.
// progress, when set, is called after each leaf.
func (is *issuer) issueAll(leaves []Leaf, workers int, progress func(done, total int)) error {
	var todo []int
	for i := range leaves {
		if leaves[i].Action != Unchanged {
			todo = append(todo, i)
		}
	}
	jobs := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		done     int
	)
	for w := 0; w < max(workers, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				err := is.issue(&leaves[i])
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				done++
				if progress != nil {
					progress(done+len(leaves)-len(todo), len(leaves))
				}
				mu.Unlock()
			}
		}()
	}
	for _, i := range todo {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return firstErr
}
