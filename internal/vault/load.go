package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
)

// maxPassword bounds a password file or a script's output: a password is
// one line; fsutil.LimitKey also bounds one-line password files elsewhere.
const maxPassword = fsutil.LimitKey

// Load reads the password of each source of opts (see Sources), in order,
// into a Keyring, as Ansible's CLI does:
//   - a file that is not executable holds the password: its content with
//     blanks (space, tab, CR, LF, VT, FF) trimmed from both ends; the
//     file may itself be vault-encrypted with a password read before it;
//   - an executable file is run without arguments, or with
//     "--vault-id ID" when it is a client script (see Source.ClientID),
//     and prints the password; only CR and LF are trimmed from the ends
//     of its output. A client script that exits 2 has no password for ID.
//
// A source that fails is skipped and recorded in Keyring.Warnings when
// another works, as Ansible warns and goes on; when none works, Load
// returns the failures. No sources give an empty Keyring.
func Load(ctx context.Context, opts Options) (*Keyring, error) {
	srcs, err := Sources(opts)
	if err != nil {
		return nil, err
	}
	k := &Keyring{MatchIDOnly: ansibleBool(opts.getenv("ANSIBLE_VAULT_ID_MATCH"))}
	for _, src := range srcs {
		pw, err := readPassword(ctx, src, k, &opts)
		if err == nil {
			err = k.Add(src.ID, pw)
		}
		if err != nil {
			k.Warnings = append(k.Warnings, err)
		}
	}
	if k.Len() == 0 && len(k.Warnings) > 0 {
		return nil, errors.Join(k.Warnings...)
	}
	return k, nil
}

// ansibleBool reads a boolean setting as Ansible's config does.
func ansibleBool(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "y", "yes", "on", "1", "true", "t":
		return true
	}
	return false
}

// readPassword reads one source; k holds the passwords read before it,
// which may open a vault-encrypted password file.
func readPassword(ctx context.Context, src Source, k *Keyring, opts *Options) ([]byte, error) {
	fi, err := os.Stat(src.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("vault password file %s (vault id %s) was not found", src.Path, src.ID)
	case err != nil:
		return nil, fmt.Errorf("vault password file %s: %w", src.Path, err)
	case fi.IsDir():
		return nil, fmt.Errorf("vault password file %s is a directory", src.Path)
	case fi.Mode().IsRegular() && fi.Mode()&0o111 != 0:
		return runScript(ctx, src, opts)
	}
	data, err := readBounded(src.Path)
	if err != nil {
		return nil, err
	}
	data = bytes.Trim(data, " \t\r\n\v\f")
	if IsEncrypted(data) {
		o, err := k.Open(src.Path, data)
		if err != nil {
			return nil, fmt.Errorf("vault password file %s is vault-encrypted and does not open: %w", src.Path, err)
		}
		data = o.Plaintext
	}
	data = bytes.Trim(data, "\r\n")
	if len(data) == 0 {
		return nil, fmt.Errorf("vault password file %s is empty", src.Path)
	}
	return data, nil
}

// readBounded reads a password file: a regular file, or a pipe such as
// the /dev/fd/N of a shell's "--vault-password-file <(pass show x)".
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vault password file %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("vault password file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() && fi.Mode()&fs.ModeNamedPipe == 0 {
		return nil, fmt.Errorf("vault password file %s is not a regular file or a pipe (%v)", path, fi.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPassword+1))
	if err != nil {
		return nil, fmt.Errorf("vault password file %s: %w", path, err)
	}
	if len(data) > maxPassword {
		return nil, fmt.Errorf("vault password file %s is larger than %d bytes: not a password file", path, maxPassword)
	}
	return data, nil
}

// clientNoSecret is the exit status of a client script that has no
// password for the vault id it was asked for.
const clientNoSecret = 2

// runScript runs an executable password file the way Ansible does: no
// shell, the environment and stdin inherited, stdout the password. A
// plain script's stderr goes to the terminal so it can prompt; a client
// script's is kept for the error message, as Ansible keeps it.
func runScript(ctx context.Context, src Source, opts *Options) ([]byte, error) {
	client := isClientScript(src.Path)
	kind := "vault password script"
	var args []string
	if client {
		kind = "vault password client script"
		if src.ClientID != "" {
			args = []string{"--vault-id", src.ClientID}
		}
	}
	cmd := exec.CommandContext(ctx, src.Path, args...)
	stdout := &capped{max: maxPassword}
	stderr := &capped{max: 4 << 10}
	cmd.Stdout, cmd.Stdin, cmd.Stderr = stdout, opts.Stdin, opts.Stderr
	if cmd.Stdin == nil {
		cmd.Stdin = os.Stdin
	}
	switch {
	case client:
		cmd.Stderr = stderr
	case cmd.Stderr == nil:
		cmd.Stderr = os.Stderr
	}
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && client && exit.ExitCode() == clientNoSecret:
		return nil, fmt.Errorf("%s %s has no password for vault id %s%s", kind, src.Path, src.ClientID, stderr.tail())
	case errors.As(err, &exit):
		return nil, fmt.Errorf("%s %s failed (%v)%s", kind, src.Path, exit, stderr.tail())
	case err != nil:
		return nil, fmt.Errorf("running %s %s: %w (if it is not a script, remove its execute bits)", kind, src.Path, err)
	case stdout.over:
		return nil, fmt.Errorf("%s %s printed more than %d bytes: not a password", kind, src.Path, maxPassword)
	}
	pw := bytes.Trim(stdout.buf.Bytes(), "\r\n")
	if len(pw) == 0 {
		return nil, fmt.Errorf("%s %s printed no password", kind, src.Path)
	}
	return pw, nil
}

// capped keeps at most max bytes written to it and notes any excess,
// so a runaway script cannot fill memory.
type capped struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); len(p) > room {
		c.buf.Write(p[:max(room, 0)])
		c.over = true
		return len(p), nil
	}
	return c.buf.Write(p)
}

// tail is the first line of what a client script wrote to stderr, for an
// error message (": reason"), or "".
func (c *capped) tail() string {
	line, _, _ := strings.Cut(strings.TrimSpace(c.buf.String()), "\n")
	if line == "" {
		return ""
	}
	return ": " + strings.TrimSpace(line)
}
