package pki

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cloudflare/cfssl/info"
	"github.com/cloudflare/cfssl/signer"
)

// A request made elsewhere: certmonger makes the key and the CSR on the
// compute host and hands the CSR to our helper, which has only the CSR's
// public key to check the answer against.

// ProfileByName finds a leaf profile ("server", "client").
func ProfileByName(name string) (Profile, bool) {
	for _, p := range Profiles {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// ProfileOfCSR returns the leaf profile whose extended key usage the
// CSR requests (certmonger's -U): serverAuth or clientAuth, alone.
func ProfileOfCSR(cr *x509.CertificateRequest) (Profile, error) {
	var asked []asn1.ObjectIdentifier
	for _, e := range cr.Extensions {
		if e.Id.Equal(oidExtKeyUsage) {
			if _, err := asn1.Unmarshal(e.Value, &asked); err != nil {
				return Profile{}, fmt.Errorf("its extendedKeyUsage: %v", err)
			}
		}
	}
	for _, p := range Profiles {
		if len(asked) == 1 && asked[0].Equal(extUsageOID[p.ExtUsage]) {
			return p, nil
		}
	}
	return Profile{}, fmt.Errorf("it asks for extended key usages %v, not serverAuth or clientAuth alone: name the profile (certmonger -T server|client)", asked)
}

var extUsageOID = map[x509.ExtKeyUsage]asn1.ObjectIdentifier{
	x509.ExtKeyUsageServerAuth: {1, 3, 6, 1, 5, 5, 7, 3, 1},
	x509.ExtKeyUsageClientAuth: {1, 3, 6, 1, 5, 5, 7, 3, 2},
}

// ParseCSR reads one PEM certificate request and checks its signature.
func ParseCSR(csrPEM []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
		return nil, errors.New("no PEM certificate request")
	}
	cr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	if err := cr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("its signature: %v", err)
	}
	if FamilyOf(cr.PublicKey) == "" {
		return nil, fmt.Errorf("its %T key is neither RSA nor ECDSA", cr.PublicKey)
	}
	return cr, nil
}

// SignCSR signs a request whose key is not here (certmonger's, made on
// the host) with profile, for the subject (CN, and O when it has one)
// and exactly the SANs it asks for, over days (0: DefaultLeafDays), and
// checks what the signer returns as Issue does (checkIssued): for the
// CSR's key, those names, the profile's usages, the dates, a chain to
// the CA. It returns the leaf and its PEM; a failed check is a
// *BadCertificateError (a *RemoteError of class RemoteBadCertificate
// from a remote signer) and no certificate.
func (ca *CA) SignCSR(csrPEM []byte, profile Profile, days int) (*x509.Certificate, []byte, error) {
	cr, err := ParseCSR(csrPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("the CSR: %v", err)
	}
	req := LeafRequest{Profile: profile, CommonName: cr.Subject.CommonName, SANs: SANs{DNS: cr.DNSNames, IPs: cr.IPAddresses}, Days: days}
	if len(cr.Subject.Organization) == 1 {
		req.Org = cr.Subject.Organization[0]
	}
	nb, na := ca.LeafDates(time.Time{}, req.Days)
	hosts := slices.Clone(req.SANs.DNS)
	for _, ip := range req.SANs.IPs {
		hosts = append(hosts, ip.String())
	}
	certPEM, err := ca.signer.Sign(signer.SignRequest{Hosts: hosts, Request: string(csrPEM),
		Profile: profile.cfsslName(FamilyOf(cr.PublicKey)), NotBefore: nb, NotAfter: na})
	if err != nil {
		return nil, nil, fmt.Errorf("sign %s certificate for %s: %w", profile.Name, req.CommonName, err)
	}
	certs, err := ParseCertsPEM(certPEM)
	if err != nil {
		return nil, nil, err
	}
	if err := ca.checkIssuedFor(req, cr.PublicKey, nb, na, certs); err != nil {
		return nil, nil, err
	}
	return certs[0], EncodeCertsPEM(certs[0]), nil
}

// DialRemoteCA reaches a remote cfssl signer and reads its CA
// certificate (with o.Issuers, up to the root) from the info endpoint
// of o.Label, and nothing else: for a caller that signs one CSR now and
// checks the answer (certmonger's helper), where a refusal should be the
// signer's own words. RemoteCA checks every profile and the auth key
// first, for a run that issues many. Errors are *RemoteError.
func DialRemoteCA(ctx context.Context, o RemoteOptions) (*CA, error) {
	r, err := newRemoteSigner(o)
	if err != nil {
		return nil, err
	}
	var resp info.Resp
	if err := r.call(ctx, "info", info.Req{Label: r.label}, &resp); err != nil {
		return nil, r.classify(err)
	}
	certs, err := ParseCertsPEM([]byte(resp.Certificate))
	if err != nil {
		return nil, &RemoteError{Class: RemoteBadCertificate, URL: r.url, Err: fmt.Errorf("its info certificate: %v", err)}
	}
	chain := append([]*x509.Certificate{certs[0]}, o.Issuers...)
	if err := checkCAChain(chain); err != nil {
		return nil, &RemoteError{Class: RemoteBadCertificate, URL: r.url, Err: fmt.Errorf("its CA certificate: %v", err)}
	}
	return &CA{Cert: certs[0], Chain: o.Issuers, CertPEM: EncodeCertsPEM(chain...), signer: r}, nil
}
