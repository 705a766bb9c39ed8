package sasl

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/internal/bdb"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/gdbm"
)

// DBFormat is the on-disk format of a Cyrus sasldb.
type DBFormat string

// The formats distributions build Cyrus SASL with.
const (
	// FormatBDB is Berkeley DB hash v9: Debian and Ubuntu.
	FormatBDB DBFormat = "bdb"
	// FormatGDBM is GDBM: RHEL, Rocky and Fedora 35 and later.
	FormatGDBM DBFormat = "gdbm"
)

// ParseDBFormat accepts "bdb" (also "berkeley", "db") or "gdbm".
func ParseDBFormat(s string) (DBFormat, error) {
	switch strings.ToLower(s) {
	case "bdb", "berkeley", "berkeleydb", "db":
		return FormatBDB, nil
	case "gdbm":
		return FormatGDBM, nil
	}
	return "", fmt.Errorf("sasldb format %q: want bdb (Debian, Ubuntu) or gdbm (RHEL, Rocky, Fedora)", s)
}

// Record is one sasldb entry: a property of a user in a realm.
// Properties libvirt's mechanisms use are "userPassword" (the plaintext,
// which both SCRAM-SHA-256 and DIGEST-MD5 can use) and "authPassword"
// (a SCRAM secret).
type Record struct {
	AuthID   string `json:"authid"`
	Realm    string `json:"realm"`
	Property string `json:"property"`
	Value    []byte `json:"-"` // a secret: never printed
}

// Properties Cyrus writes.
const (
	PropUserPassword = "userPassword"
	PropAuthPassword = "authPassword"
)

// key is Cyrus's record key: authid NUL realm NUL property, no trailing NUL.
func (r Record) key() []byte {
	return []byte(r.AuthID + "\x00" + r.Realm + "\x00" + r.Property)
}

func parseKey(k []byte) (Record, error) {
	parts := bytes.Split(k, []byte{0})
	if len(parts) != 3 {
		return Record{}, fmt.Errorf("key %q is not authid\\0realm\\0property", k)
	}
	return Record{AuthID: string(parts[0]), Realm: string(parts[1]), Property: string(parts[2])}, nil
}

// EncodeDB returns a whole sasldb file in the given format.
func EncodeDB(format DBFormat, records []Record) ([]byte, error) {
	for _, r := range records {
		for _, s := range []string{r.AuthID, r.Realm, r.Property} {
			if strings.ContainsRune(s, 0) {
				return nil, fmt.Errorf("sasldb: NUL byte in %q", s)
			}
		}
		if r.AuthID == "" || r.Property == "" {
			return nil, fmt.Errorf("sasldb: empty user or property")
		}
	}
	switch format {
	case FormatGDBM:
		pairs := make([]gdbm.Pair, len(records))
		for i, r := range records {
			pairs[i] = gdbm.Pair{Key: r.key(), Value: r.Value}
		}
		return gdbm.Encode(pairs)
	case FormatBDB:
		pairs := make([]bdb.Pair, len(records))
		for i, r := range records {
			pairs[i] = bdb.Pair{Key: r.key(), Value: r.Value}
		}
		return bdb.Encode(pairs)
	}
	return nil, fmt.Errorf("sasldb: unknown format %q", format)
}

// DecodeDB detects the format of a sasldb file and returns its records,
// sorted by user, realm and property.
func DecodeDB(data []byte) (DBFormat, []Record, error) {
	var format DBFormat
	var keys, values [][]byte
	switch {
	case bdb.Sniff(data):
		format = FormatBDB
		pairs, err := bdb.Decode(data)
		if err != nil {
			return format, nil, err
		}
		for _, p := range pairs {
			keys, values = append(keys, p.Key), append(values, p.Value)
		}
	case gdbm.Sniff(data):
		format = FormatGDBM
		pairs, err := gdbm.Decode(data)
		if err != nil {
			return format, nil, err
		}
		for _, p := range pairs {
			keys, values = append(keys, p.Key), append(values, p.Value)
		}
	default:
		return "", nil, fmt.Errorf("not a sasldb: neither Berkeley DB hash nor GDBM")
	}
	records := make([]Record, 0, len(keys))
	for i, k := range keys {
		r, err := parseKey(k)
		if err != nil {
			return format, nil, err
		}
		r.Value = values[i]
		records = append(records, r)
	}
	slices.SortFunc(records, func(a, b Record) int { return bytes.Compare(a.key(), b.key()) })
	return format, records, nil
}

// ReadDB reads and decodes a sasldb file; errors name the file. A symlink
// is followed, but the file must be a regular file of at most
// fsutil.LimitSASLDB bytes, so /dev/zero or a FIFO is refused at once.
func ReadDB(path string) (DBFormat, []Record, error) {
	data, err := fsutil.ReadFileFollow(path, fsutil.LimitSASLDB)
	if err != nil {
		return "", nil, err
	}
	format, records, err := DecodeDB(data)
	if err != nil {
		return format, nil, fmt.Errorf("%s: %v", path, err)
	}
	return format, records, nil
}

// UserRecords are the records for one user: userPassword always (both
// mechanisms can use it, and DIGEST-MD5 needs it), and authPassword when a
// SCRAM secret is given.
func UserRecords(authid, realm, password, scramSecret string) []Record {
	recs := []Record{{AuthID: authid, Realm: realm, Property: PropUserPassword, Value: []byte(password)}}
	if scramSecret != "" {
		recs = append(recs, Record{AuthID: authid, Realm: realm, Property: PropAuthPassword, Value: []byte(scramSecret)})
	}
	return recs
}
