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
	"github.com/libvirt-pki/libvirt-pki/layout"
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
	Dir   string // the host's directory (created if missing)
	Files []layout.FileSpec
	// Realms are every realm libvirtd on the host may compute (its host
	// name, lowercased, or the canonical FQDN): the user is in each.
	Realms     []string
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
	res     FileResult
	data    []byte
	mode    fs.FileMode
	fixMode bool // unchanged bytes, but the mode is not mode
}

// planHost decides passwd.db, sasl.conf and auth.conf for o.Dir, reading
// what is there and writing nothing. An existing passwd.db is merged, not
// replaced: other users stay (the authname's entries in other realms are
// removed), and the file is left byte for byte when it already holds this
// user with this password (a SCRAM secret is verified, not compared, as
// its salt is random). A passwd.db that is no sasldb, or one of another
// format, is bad input. Every read is bounded (fsutil.ReadFile).
func planHost(o hostOptions) (hostFiles, error) {
	if len(o.Mechs) == 0 {
		return hostFiles{}, errs.Inputf("no SASL mechanism")
	}
	h := hostFiles{dir: o.Dir}
	dbPath := KollaSASLDBPath
	for _, spec := range o.Files {
		if spec.Role == layout.SASLDB {
			dbPath = "/" + spec.Rel
		}
	}
	for _, spec := range o.Files {
		f := plannedFile{res: FileResult{Path: filepath.Join(o.Dir, filepath.FromSlash(spec.Rel))}, mode: spec.Mode}
		switch spec.Role {
		case layout.SASLDB:
			db, dbRes, err := planDB(f.res.Path, o)
			if err != nil {
				return hostFiles{}, err
			}
			f.data, f.res = db, dbRes
			h.files = append(h.files, f)
			continue
		case layout.SASLConf:
			f.data = SASLConf(o.Mechs, dbPath)
		default: // the auth.conf files
			f.data = AuthConf(o.Authname, o.Password)
		}
		old, err := fsutil.ReadFileIfExists(f.res.Path, fsutil.LimitConfig)
		switch {
		case err != nil:
			return hostFiles{}, errs.WrapInput(err)
		case old == nil:
			f.res.Action = "create"
		case bytes.Equal(old, f.data):
			f.res.Action = "unchanged"
		default:
			f.res.Action, f.res.Reason = "update", "contents differ"
		}
		h.files = append(h.files, f)
	}
	for i := range h.files {
		f := &h.files[i]
		// A secret file with the right bytes is still rewritten when its
		// mode is looser (or otherwise other) than it should be.
		if fi, err := os.Lstat(f.res.Path); err == nil && f.res.Action == "unchanged" {
			f.fixMode = fi.Mode().Perm() != f.mode
		}
	}
	return h, nil
}

// checkTree refuses, as bad input, what Apply could not write: a host
// directory or file of the wrong kind (checkWritable), and a symlink
// anywhere on the way from the tree root down to one of the host's files
// (fsutil.Batch with a Root refuses to write through one). Saying so
// before the first write keeps "nothing written" true. NewPlan calls it
// before planHost reads anything.
func (o hostOptions) checkTree(treeRoot string) error {
	if err := checkWritable(o.Dir, o.Files); err != nil {
		return err
	}
	for _, spec := range o.Files {
		if err := fsutil.CheckNoSymlinks(treeRoot, filepath.Join(o.Dir, filepath.FromSlash(spec.Rel))); err != nil {
			return errs.WrapInput(err)
		}
	}
	return nil
}

// checkWritable refuses, before anything is written, what the writes
// would refuse: a host directory that is a symlink or no directory, and a
// file in it that is a symlink or not a regular file.
func checkWritable(dir string, files []layout.FileSpec) error {
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return errs.WrapInput(err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return errs.Inputf("%s: is a symlink; refusing to write into it", dir)
	case !fi.IsDir():
		return errs.Inputf("%s: exists and is not a directory", dir)
	}
	for _, spec := range files {
		p := filepath.Join(dir, filepath.FromSlash(spec.Rel))
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return errs.WrapInput(err)
		case fi.Mode()&fs.ModeSymlink != 0:
			return errs.Inputf("%s: is a symlink; refusing to write through it", p)
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

// toWrite lists the files Apply stages: those whose bytes change and
// those whose mode must be fixed.
func (h hostFiles) toWrite() []plannedFile {
	var out []plannedFile
	for _, f := range h.files {
		if f.res.Action != "unchanged" || f.fixMode {
			out = append(out, f)
		}
	}
	return out
}

// planDB decides the new passwd.db contents.
func planDB(path string, o hostOptions) ([]byte, FileResult, error) {
	res := FileResult{Path: path}
	var others []Record
	data, err := fsutil.ReadFileIfExists(path, fsutil.LimitSASLDB)
	switch {
	case err != nil:
		return nil, res, errs.WrapInput(err)
	case data == nil:
		res.Action = "create"
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
		mine := map[string][]Record{}
		stale := map[string]bool{}
		for _, r := range records {
			switch {
			case r.AuthID != o.Authname:
				others = append(others, r)
			case slices.Contains(o.Realms, r.Realm):
				mine[r.Realm] = append(mine[r.Realm], r)
			default:
				stale[r.AuthID+"@"+r.Realm] = true
			}
		}
		reason, err := realmsDiffer(mine, o)
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
	recs := others
	for _, realm := range o.Realms {
		recs = append(recs, UserRecords(o.Authname, realm, o.Password, secret)...)
	}
	db, err := EncodeDB(o.Format, recs)
	if err != nil {
		return nil, res, fmt.Errorf("%s: %v", path, err)
	}
	return db, res, nil
}

// realmsDiffer says why the user's existing records, by realm, are not
// what o wants, or "" when they are.
func realmsDiffer(mine map[string][]Record, o hostOptions) (string, error) {
	for _, realm := range o.Realms {
		if reason, err := userDiffers(mine[realm], realm, o); reason != "" || err != nil {
			return reason, err
		}
	}
	return "", nil
}

// userDiffers says why the user's existing records in realm are not what
// o wants, or "" when they are.
func userDiffers(mine []Record, realm string, o hostOptions) (string, error) {
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
		return "user " + o.Authname + "@" + realm + " missing", nil
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
