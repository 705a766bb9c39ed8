package certs

import (
	"encoding/json"
	"path/filepath"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// certificates --csr-only, for an external CA without an API: for every
// leaf the plan would create or re-issue it writes the key where the
// layout places it (a kept key stays as it is) and a CSR beside the
// certificate's place, <certificate file without .pem>.csr, and lists
// them in CSRManifestFile in the layout's root with what the CA must put
// in each certificate. A re-run keeps every key and every CSR that still
// matches its key, subject and SANs. --import (import.go) installs the
// signed certificates.

// CSRManifestFile is the manifest's name in the layout's root.
const CSRManifestFile = "csr-manifest.json"

// CSRManifest lists the requests an external CA must sign.
type CSRManifest struct {
	// CA is the subject of the CA the certificates must chain to.
	CA       string       `json:"ca"`
	Requests []CSRRequest `json:"requests"`
}

// CSRRequest is one CSR and what its certificate must hold. Paths are
// relative to the manifest's directory.
type CSRRequest struct {
	Host         string   `json:"host"`
	Kind         string   `json:"kind"`
	CSR          string   `json:"csr"`
	Certificate  string   `json:"certificate"` // where --import installs it
	Copies       []string `json:"copies,omitempty"`
	Key          string   `json:"key"`
	CommonName   string   `json:"common_name"`
	Organization string   `json:"organization,omitempty"`
	DNSNames     []string `json:"dns_names"`
	IPAddresses  []string `json:"ip_addresses"`
	// KeyUsage is the keyUsage extension, critical (empty: none at
	// all), per docs/key-usage.md for the key's family.
	KeyUsage         []string `json:"key_usage"`
	ExtKeyUsage      []string `json:"extended_key_usage"`
	BasicConstraints string   `json:"basic_constraints"`
}

// CSRPath is where --csr-only puts the CSR of the certificate at
// certPath.
func CSRPath(certPath string) string { return strings.TrimSuffix(certPath, ".pem") + ".csr" }

// CSRResult is what WriteCSRs did.
type CSRResult struct {
	Manifest string      `json:"manifest"`
	Written  int         `json:"csrs_written"`
	Kept     int         `json:"csrs_kept"`
	Details  CSRManifest `json:"requests"`
}

// WriteCSRs stages the keys, the CSRs and the manifest of a --csr-only
// plan in one journalled batch and commits it. The caller holds the
// trees' locks.
func (p *Plan) WriteCSRs() (res *CSRResult, err error) {
	o := p.Opts
	batch := newStage(o.Layout, o.Top, o.Root, o.CADir, o.Shared)
	defer func() { err = batch.finish(err) }()
	res = &CSRResult{Manifest: filepath.Join(o.Root, CSRManifestFile), Details: CSRManifest{CA: p.CA.Subject, Requests: []CSRRequest{}}}
	for i := range p.Leaves {
		l := &p.Leaves[i]
		if l.Action != Create && l.Action != Reissue {
			continue
		}
		r, wrote, err := p.stageCSR(batch, l)
		if err != nil {
			return nil, err
		}
		if wrote {
			res.Written++
		} else {
			res.Kept++
		}
		res.Details.Requests = append(res.Details.Requests, r)
	}
	data, err := json.MarshalIndent(res.Details, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := fsutil.MkdirAll(o.Root, 0o755); err != nil {
		return nil, err
	}
	return res, stageIfChanged(batch, res.Manifest, append(data, '\n'), 0o644)
}

// stageCSR stages l's key (unless the file holds it) and its CSR (unless
// the one there matches), and describes the request.
func (p *Plan) stageCSR(batch *stage, l *Leaf) (r CSRRequest, wrote bool, err error) {
	t := l.targets[0]
	key, err := p.csrKey(l)
	if err != nil {
		return r, false, err
	}
	req := pki.LeafRequest{Profile: l.kind.Profile, CommonName: l.cn, Org: l.org, SANs: l.sans, Key: key}
	csrPath := CSRPath(t.cert)
	csrPEM, err := readIfExists(csrPath, fsutil.LimitCert)
	if err != nil {
		return r, false, err
	}
	if csrPEM == nil || !pki.CSRMatches(csrPEM, req) {
		if csrPEM, err = pki.NewCSR(req); err != nil {
			return r, false, err
		}
		if err := batch.mkdirsIn(p.tree, csrPath); err != nil {
			return r, false, err
		}
		if err := batch.WriteFile(csrPath, csrPEM, 0o644); err != nil {
			return r, false, err
		}
		wrote = true
	}
	keySpec, _ := p.tree.Layout.Spec(l.kind.Key)
	if p.Opts.Keys.holds(t.key, key) {
		err = fixMode(t.key, keySpec.Mode)
	} else if err = batch.mkdirsIn(p.tree, t.key); err == nil {
		var keyFile []byte
		if keyFile, err = p.Opts.Keys.file(key); err == nil {
			err = batch.WriteFile(t.key, keyFile, keySpec.Mode)
		}
	}
	return p.describeCSR(l, key, csrPath), wrote, err
}

// csrKey is the key of l's request: the one it keeps, or a new one. A
// new key is refused while the old one is in use with the certificate
// there: until --import, the pair would not match.
func (p *Plan) csrKey(l *Leaf) (*pki.Key, error) {
	if !l.NewKey && l.oldKey != nil {
		return l.oldKey, nil
	}
	ob, err := observe(layout.Unit{}, l.kind, l.targets[0], p.Opts.Keys)
	if err != nil {
		return nil, err
	}
	if ob.cert != nil && ob.key != nil && pki.KeyMatches(ob.key.Signer, ob.cert) {
		return nil, inputErr("--csr-only: %s needs a new key (%s), and its key %s is in use with it: a new key would not match it until the import; move the pair away first to re-key it through the external CA",
			l.targets[0].cert, l.Reason, l.targets[0].key)
	}
	return pki.GenerateKey(l.algo)
}

// describeCSR is l's manifest entry.
func (p *Plan) describeCSR(l *Leaf, key *pki.Key, csrPath string) CSRRequest {
	rel := func(path string) string {
		if r, err := filepath.Rel(p.Opts.Root, path); err == nil {
			return filepath.ToSlash(r)
		}
		return path
	}
	prof := l.kind.Profile
	r := CSRRequest{
		Host: l.Host, Kind: l.Profile, CSR: rel(csrPath), Certificate: rel(l.targets[0].cert), Key: rel(l.targets[0].key),
		CommonName: l.cn, Organization: l.org, DNSNames: append([]string{}, l.sans.DNS...), IPAddresses: []string{},
		KeyUsage: []string{}, ExtKeyUsage: []string{pki.ExtUsageName(prof.ExtUsage)}, BasicConstraints: "CA:FALSE",
	}
	for _, c := range l.Copies {
		r.Copies = append(r.Copies, rel(c))
	}
	for _, ip := range l.sans.IPs {
		r.IPAddresses = append(r.IPAddresses, ip.String())
	}
	if ku := prof.KeyUsage[pki.FamilyOf(key.Signer.Public())]; ku != 0 {
		r.KeyUsage = strings.Split(pki.KeyUsageString(ku), ", ")
	}
	return r
}
