package sasl

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
)

// The files written per host, and their modes: passwd.db holds the
// plaintext userPassword and auth.conf the client's password, so both are
// 0600; sasl.conf holds no secret.
const (
	DBFile       = "passwd.db"
	SASLConfFile = "sasl.conf"
	AuthConfFile = "auth.conf"
	// KollaSASLDBPath is where Kolla's nova_libvirt keeps the sasldb.
	KollaSASLDBPath = "/etc/libvirt/passwd.db"
)

// hostOptions says what SASL files to write for one host.
type hostOptions struct {
	Dir        string // the host's directory (created if missing)
	Realm      string // must equal libvirtd's own host name, lowercased
	Authname   string
	Password   string
	Mechs      []string // canonical names (ParseMech); a SCRAM secret is written when SCRAM-SHA-256 is one
	Format     DBFormat
	Iterations int
}

// FileResult says what happened to one file.
type FileResult struct {
	Path   string `json:"path"`
	Action string `json:"action"` // "create", "update" or "unchanged"
	Reason string `json:"reason,omitempty"`
}

// hostFiles are one host's files, decided and not yet written.
type hostFiles struct {
	dir   string
	files []plannedFile
}

type plannedFile struct {
	res  FileResult
	data []byte
	mode fs.FileMode
}

// planHost decides passwd.db, sasl.conf and auth.conf for o.Dir, reading
// what is there and writing nothing. An existing passwd.db is merged, not
// replaced: other users stay (the authname's entries in other realms are
// removed), and the file is left byte for byte when it already holds this
// user with this password (a SCRAM secret is verified, not compared, as
// its salt is random). A passwd.db that is no sasldb, or one of another
// format, is bad input.
func planHost(o hostOptions) (hostFiles, error) {
	if o.Password == "" {
		return hostFiles{}, errs.Inputf("empty SASL password")
	}
	if len(o.Mechs) == 0 {
		return hostFiles{}, errs.Inputf("no SASL mechanism")
	}
	if strings.ContainsAny(o.Realm, "\x00") || o.Realm == "" {
		return hostFiles{}, errs.Inputf("realm %q is empty or invalid", o.Realm)
	}
	if err := checkWritable(o.Dir); err != nil {
		return hostFiles{}, err
	}
	db, dbRes, err := planDB(filepath.Join(o.Dir, DBFile), o)
	if err != nil {
		return hostFiles{}, err
	}
	h := hostFiles{dir: o.Dir, files: []plannedFile{
		{dbRes, db, 0o600},
		{FileResult{Path: filepath.Join(o.Dir, SASLConfFile)}, SASLConf(o.Mechs, KollaSASLDBPath), 0o644},
		{FileResult{Path: filepath.Join(o.Dir, AuthConfFile)}, AuthConf(o.Authname, o.Password), 0o600},
	}}
	for i := 1; i < len(h.files); i++ {
		f := &h.files[i]
		old, err := os.ReadFile(f.res.Path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			f.res.Action = "create"
		case err != nil:
			return hostFiles{}, err
		case bytes.Equal(old, f.data):
			f.res.Action = "unchanged"
		default:
			f.res.Action, f.res.Reason = "update", "contents differ"
		}
	}
	return h, nil
}

// checkWritable refuses, before anything is written, what the writes
// would refuse: a host directory that is a symlink or no directory, and a
// file in it that is a symlink or a directory.
func checkWritable(dir string) error {
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		return errs.Inputf("%s: is a symlink; refusing to write into it", dir)
	case !fi.IsDir():
		return errs.Inputf("%s: exists and is not a directory", dir)
	}
	for _, name := range []string{DBFile, SASLConfFile, AuthConfFile} {
		p := filepath.Join(dir, name)
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		case fi.Mode()&fs.ModeSymlink != 0:
			return errs.Inputf("%s: refusing to write through a symlink", p)
		case !fi.Mode().IsRegular():
			return errs.Inputf("%s: exists and is not a regular file", p)
		}
	}
	return nil
}

// results says what write does (or did) to each file.
func (h hostFiles) results() []FileResult {
	out := make([]FileResult, len(h.files))
	for i, f := range h.files {
		out[i] = f.res
	}
	return out
}

// write writes the files that differ and tightens the mode of those that
// do not. written lists the files changed, even when err is not nil.
func (h hostFiles) write() (written []string, err error) {
	if err := fsutil.MkdirAll(h.dir, 0o755); err != nil {
		return nil, err
	}
	for _, f := range h.files {
		if f.res.Action == "unchanged" {
			// Tighten a secret file's mode even when its bytes are right.
			fi, err := os.Stat(f.res.Path)
			if err != nil || fi.Mode().Perm() == f.mode {
				continue
			}
			if err := os.Chmod(f.res.Path, f.mode); err != nil {
				return written, err
			}
		} else if err := fsutil.WriteFileAtomic(f.res.Path, f.data, f.mode); err != nil {
			return written, err
		}
		written = append(written, f.res.Path)
	}
	return written, nil
}

// planDB decides the new passwd.db contents.
func planDB(path string, o hostOptions) ([]byte, FileResult, error) {
	res := FileResult{Path: path}
	var others []Record
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		res.Action = "create"
	case err != nil:
		return nil, res, err
	default:
		format, records, err := DecodeDB(data)
		if err != nil {
			return nil, res, errs.Inputf("%s: %v (move it away to start a new one)", path, err)
		}
		if format != o.Format {
			return nil, res, errs.Inputf("%s is a %s sasldb, not %s: pass --db-format %s, or move it away", path, format, o.Format, format)
		}
		// This tool owns the authname: its entries in other realms are
		// leftovers of an earlier realm and go. Other users stay.
		var mine []Record
		stale := map[string]bool{}
		for _, r := range records {
			switch {
			case r.AuthID != o.Authname:
				others = append(others, r)
			case r.Realm == o.Realm:
				mine = append(mine, r)
			default:
				stale[r.AuthID+"@"+r.Realm] = true
			}
		}
		reason, err := userDiffers(mine, o)
		if len(stale) > 0 {
			removing := "removing " + strings.Join(slices.Sorted(maps.Keys(stale)), ", ")
			reason = strings.TrimPrefix(reason+"; "+removing, "; ")
		}
		if err != nil {
			return nil, res, fmt.Errorf("%s: %v", path, err)
		}
		if reason == "" {
			res.Action = "unchanged"
			return data, res, nil
		}
		res.Action, res.Reason = "update", reason
	}
	secret := ""
	if o.wantSCRAM() {
		var err error
		if secret, err = NewSCRAMSecret(o.Password, o.Iterations); err != nil {
			return nil, res, err
		}
	}
	db, err := EncodeDB(o.Format, append(others, UserRecords(o.Authname, o.Realm, o.Password, secret)...))
	if err != nil {
		return nil, res, fmt.Errorf("%s: %v", path, err)
	}
	return db, res, nil
}

// userDiffers says why the user's existing records are not what o wants,
// or "" when they are.
func userDiffers(mine []Record, o hostOptions) (string, error) {
	var userPW, authPW []byte
	for _, r := range mine {
		switch r.Property {
		case PropUserPassword:
			userPW = r.Value
		case PropAuthPassword:
			authPW = r.Value
		default:
			return "unexpected property " + r.Property, nil
		}
	}
	switch {
	case userPW == nil:
		return "user " + o.Authname + "@" + o.Realm + " missing", nil
	case string(userPW) != o.Password:
		return "password changed", nil
	case o.wantSCRAM() && authPW == nil:
		return "SCRAM secret missing", nil
	case !o.wantSCRAM() && authPW != nil:
		return "SCRAM secret no longer wanted", nil
	case authPW != nil:
		ok, err := VerifySCRAMSecret(string(authPW), o.Password)
		if err != nil || !ok {
			return "SCRAM secret does not match the password", nil
		}
		if it := scramIterations(string(authPW)); o.Iterations != 0 && it != o.Iterations {
			return fmt.Sprintf("SCRAM iterations %d, want %d", it, o.Iterations), nil
		}
	}
	return "", nil
}

func scramIterations(secret string) int {
	_, it, _, _, err := parseSCRAMSecret(secret)
	if err != nil {
		return 0
	}
	return it
}

func (o hostOptions) wantSCRAM() bool { return slices.Contains(o.Mechs, MechSCRAMSHA256) }
