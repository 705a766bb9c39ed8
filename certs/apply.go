package certs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// Apply carries out the plan: it stages a new CA, then every cacert.pem,
// then generates keys and signs leaves on Opts.Workers goroutines, staging
// each host's files as soon as they are ready so memory does not grow with
// the host count. All files become durable and take their places together
// at the end (fsutil.Batch): on any error, nothing is replaced. progress,
// when set, is called after each leaf.
func (p *Plan) Apply(progress func(done, total int)) (err error) {
	o := p.Opts
	batch := &fsutil.Batch{}
	defer func() {
		if err != nil {
			batch.Abort()
			return
		}
		err = batch.Commit()
	}()
	if p.CA.created {
		if err := fsutil.MkdirAll(o.CADir, 0o700); err != nil {
			return err
		}
		// The key first: a CA certificate without its key would make the
		// next run refuse to continue.
		if err := batch.WriteFile(p.CA.KeyPath, p.CA.ca.Key.PEM, 0o600); err != nil {
			return err
		}
		if err := batch.WriteFile(p.CA.CertPath, p.CA.ca.CertPEM, 0o644); err != nil {
			return err
		}
		p.CA.created = false
	}
	bundle := pki.EncodeCertsPEM(p.CA.ca.Bundle()...)
	caSpec, _ := o.Layout.Spec(layout.CACert)
	for _, f := range p.CAFiles {
		if f.Action == Unchanged {
			continue
		}
		if err := p.mkdirs(filepath.Dir(f.Path)); err != nil {
			return err
		}
		if err := batch.WriteFile(f.Path, bundle, caSpec.Mode); err != nil {
			return err
		}
	}

	jobs := make(chan int)
	errs := make(chan error, len(p.Leaves))
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := p.applyLeaf(&p.Leaves[i], batch); err != nil {
					errs <- err
				}
				if progress != nil {
					mu.Lock()
					done++
					progress(done, len(p.Leaves))
					mu.Unlock()
				}
			}
		}()
	}
	for i := range p.Leaves {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	return <-errs // nil when the channel is empty
}

func (p *Plan) applyLeaf(lp *LeafPlan, batch *fsutil.Batch) error {
	o := p.Opts
	var certPEM, keyPEM []byte
	switch lp.Action {
	case Unchanged:
		return nil
	case Update:
		var err error
		if certPEM, err = os.ReadFile(lp.targets[0].cert); err != nil {
			return err
		}
		if keyPEM, err = os.ReadFile(lp.targets[0].key); err != nil {
			return err
		}
	default:
		key := lp.oldKey
		if lp.NewKey || key == nil {
			var err error
			if key, err = pki.GenerateKey(o.Algo); err != nil {
				return err
			}
		}
		cert, pemBytes, err := p.CA.ca.Issue(pki.LeafRequest{
			Profile: lp.profile, CommonName: lp.cn, Org: o.Org, SANs: lp.sans, Key: key, Days: o.Days,
		})
		if err != nil {
			return err
		}
		lp.NotAfter = cert.NotAfter
		certPEM, keyPEM = pemBytes, key.PEM
	}
	for i, t := range lp.targets {
		if i > 0 || lp.Action == Update {
			if sameFile(t.cert, certPEM) && sameFile(t.key, keyPEM) {
				continue
			}
		}
		if err := p.writePair(batch, t, certPEM, keyPEM, lp.profile); err != nil {
			return fmt.Errorf("%s %s: %w", lp.Unit, lp.Profile, err)
		}
	}
	return nil
}

// writePair writes the key before the certificate: after a crash between
// the two, the next run sees a key that does not match and re-issues.
func (p *Plan) writePair(batch *fsutil.Batch, t target, certPEM, keyPEM []byte, prof pki.Profile) error {
	roles := pairRoles[prof.Name]
	certSpec, _ := p.Opts.Layout.Spec(roles.cert)
	keySpec, _ := p.Opts.Layout.Spec(roles.key)
	for _, d := range []string{filepath.Dir(t.key), filepath.Dir(t.cert)} {
		if err := p.mkdirs(d); err != nil {
			return err
		}
	}
	if err := stageIfChanged(batch, t.key, keyPEM, keySpec.Mode); err != nil {
		return err
	}
	return stageIfChanged(batch, t.cert, certPEM, certSpec.Mode)
}

// writeIfChanged keeps a file that already holds data byte for byte
// (a kept key), fixing only its mode.
func writeIfChanged(path string, data []byte, mode fs.FileMode) error {
	if sameFile(path, data) {
		return fixMode(path, mode)
	}
	return fsutil.WriteFileAtomic(path, data, mode)
}

// stageIfChanged is writeIfChanged into a batch.
func stageIfChanged(batch *fsutil.Batch, path string, data []byte, mode fs.FileMode) error {
	if sameFile(path, data) {
		return fixMode(path, mode)
	}
	return batch.WriteFile(path, data, mode)
}

func fixMode(path string, mode fs.FileMode) error {
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() != mode {
		return os.Chmod(path, mode)
	}
	return nil
}

// mkdirs creates dir and any missing parents below the layout root with the
// layout's directory mode; the root's own parents get 0755.
func (p *Plan) mkdirs(dir string) error {
	root := p.Opts.Root
	if err := fsutil.MkdirAll(root, 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == "." {
		return err
	}
	cur := root
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		cur = filepath.Join(cur, part)
		if err := fsutil.MkdirAll(cur, p.Opts.Layout.DirMode); err != nil {
			return err
		}
	}
	return nil
}
