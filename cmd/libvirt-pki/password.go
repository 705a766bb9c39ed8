package main

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/internal/vault"
	"github.com/libvirt-pki/libvirt-pki/kolla"
	"github.com/libvirt-pki/libvirt-pki/sasl"
)

// readPassword reads the SASL password from --password-file, or from
// --passwords (default <config-dir>/passwords.yml), which may be vaulted
// (opened with the passwords of v).
func readPassword(passwordFile, passwords, configDir string, v *vaultFlags) (string, error) {
	var ring *vault.Keyring
	if passwordFile == "" {
		var err error
		if ring, err = v.keyring(); err != nil {
			return "", err
		}
	}
	return sasl.LoadPassword(passwordFile, cmp.Or(passwords, kolla.PasswordsFile(configDir)), ring)
}

// sweepDir is a directory where a killed run may have left a journal or
// temporary files, and how deep below it to look for temporary files.
type sweepDir struct {
	dir   string
	depth int
}

// lockTree takes the lock on root (fsutil.LockTree) before the command
// reads anything there: with noWait it fails at once naming the holder's
// pid, else it waits, saying so once on stderr. Unless recover is false
// (a dry run, which writes nothing), it then finishes what a killed run
// left: it completes an interrupted unit (fsutil.Recover) in each
// directory of dirs, then removes temporary files (fsutil.SweepTemp),
// and says on stderr what it did. The caller unlocks.
func lockTree(ios *IOStreams, root string, noWait, recover bool, dirs ...sweepDir) (*fsutil.Locked, error) {
	say := func(msg string) { fmt.Fprintln(ios.ErrOut, "libvirt-pki: "+msg) }
	l, err := fsutil.LockTree(context.Background(), root, fsutil.LockOptions{NoWait: noWait, Waiting: say})
	if err != nil {
		return nil, err
	}
	if !recover {
		return l, nil
	}
	for _, d := range dirs {
		done, err := fsutil.Recover(d.dir)
		if len(done) > 0 {
			say(fmt.Sprintf("completed the write an earlier run was interrupted in: %s", strings.Join(done, ", ")))
		}
		if err != nil {
			l.Unlock()
			return nil, err
		}
	}
	for _, d := range dirs {
		removed, err := fsutil.SweepTemp(d.dir, d.depth)
		if len(removed) > 0 {
			say(fmt.Sprintf("removed %d temporary files earlier runs left in %s", len(removed), d.dir))
		}
		if err != nil {
			l.Unlock()
			return nil, err
		}
	}
	return l, nil
}
