package certs

import (
	"crypto/x509"
	"strings"
)

// RotationStatus reports where a rotation stands.
type RotationStatus struct {
	State    string       `json:"state"`
	NextStep string       `json:"next_step"`
	CAs      []RotationCA `json:"cas"`
	// CACertFiles lists each cacert.pem with the roles of the CAs it
	// holds ("current", "next", "previous", "other").
	CACertFiles []CAFileStatus `json:"cacert_files"`
	// CACertCounts counts cacert.pem files by what they hold, e.g.
	// "current+next": 3.
	CACertCounts map[string]int `json:"cacert_counts"`
	Leaves       []LeafStatus   `json:"leaves"`
	// LeafCounts counts leaves by the role of the CA that signed them.
	LeafCounts map[string]int `json:"leaf_counts"`
}

// CAFileStatus is one cacert.pem.
type CAFileStatus struct {
	Path  string   `json:"path"`
	Holds []string `json:"holds"`
}

// LeafStatus is one leaf and the CA that signed it.
type LeafStatus struct {
	Host     string `json:"host"`
	Profile  string `json:"profile"`
	Path     string `json:"path"`
	SignedBy string `json:"signed_by"`
}

// NextStep says what to do next in a rotation state.
func NextStep(state string) string {
	return map[string]string{
		StateNone:      "none in progress (rotate-ca start begins one)",
		StateStarted:   "deploy cacert.pem everywhere, then rotate-ca reissue",
		StateReissuing: "rotate-ca reissue (interrupted: run it again)",
		StateReissued:  "deploy the new certificates everywhere, then rotate-ca finish",
	}[state]
}

// Status reads the rotation state, every cacert.pem and every leaf.
func Status(o RotateOptions) (*RotationStatus, error) {
	o.defaults()
	r, err := loadRotation(o)
	if err != nil {
		return nil, err
	}
	st := &RotationStatus{
		State: r.state, CAs: r.cas(), CACertCounts: map[string]int{}, LeafCounts: map[string]int{},
		CACertFiles: []CAFileStatus{}, Leaves: []LeafStatus{},
		NextStep: NextStep(r.state),
	}
	paths, err := caFilesOf(o.tree())
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		certs, err := readCerts(p)
		if err != nil {
			return nil, err
		}
		var holds []string
		for _, role := range []string{"current", "next", "previous", "other"} {
			for _, c := range certs {
				if roleOfCACert(st.CAs, c) == role {
					holds = append(holds, role)
					break
				}
			}
		}
		st.CACertFiles = append(st.CACertFiles, CAFileStatus{Path: p, Holds: holds})
		st.CACertCounts[strings.Join(holds, "+")]++
	}
	leaves, err := scanLeaves(o.tree(), r.o.Keys)
	if err != nil {
		return nil, err
	}
	for _, l := range leaves {
		by := "other"
		for _, c := range st.CAs {
			if c.ca.Signed(l.cert) == nil {
				by = c.Role
				break
			}
		}
		st.Leaves = append(st.Leaves, LeafStatus{Host: l.unit.Name, Profile: l.kind.Name, Path: l.t.cert, SignedBy: by})
		st.LeafCounts[by]++
	}
	return st, nil
}

func roleOfCACert(cas []RotationCA, c *x509.Certificate) string {
	for _, ca := range cas {
		for _, b := range ca.ca.Bundle() {
			if b.Equal(c) {
				return ca.Role
			}
		}
	}
	return "other"
}
