package main

import (
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/libvirt-pki/libvirt-pki/certmonger"
	"github.com/libvirt-pki/libvirt-pki/credential"
	"github.com/libvirt-pki/libvirt-pki/errs"
	"github.com/libvirt-pki/libvirt-pki/internal/fsutil"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// DefaultCertmongerCA is the name enroll gives our CA in certmonger.
const DefaultCertmongerCA = "libvirt-pki"

// EnrollOptions are enroll's and unenroll's settings.
type EnrollOptions struct {
	Root, Sets, Host, KeyAlgo, CAName string
	HelperConfig, Program, PostSave   string
	Remote                            remoteFlags
	DryRun, KeepCAFiles               bool
	client                            certmonger.Client
}

// NewCmdEnroll asks certmonger to make and renew this host's keys and
// certificates through our helper.
func NewCmdEnroll(ios *IOStreams, hook func(*EnrollOptions) error) *cobra.Command {
	opts := &EnrollOptions{}
	cmd := &cobra.Command{
		Use:   "enroll",
		Short: "Have certmonger make this host's keys here and keep its certificates renewed through the cfssl signer (docs/certmonger.md)",
		Long: `enroll registers libvirt-pki's certmonger helper as a CA and asks certmonger to track
every certificate of --sets at the host layout's paths under --root: certmonger makes
each key on this host (it never leaves it), sends only the CSR through the helper to the
cfssl signer, saves the certificate with the table's owner and mode, and renews it before
it expires, running the post-save command (libvirt-pki reload) each time. A second run
changes nothing; --dry-run prints the getcert commands. Needs certmonger installed and
running (system bus; ` + certmonger.BusEnv + `=session for a session-bus certmonger).`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if hook != nil {
				return hook(opts)
			}
			return runEnroll(opts, ios)
		},
	}
	opts.register(cmd, true)
	return cmd
}

// NewCmdUnenroll stops certmonger tracking what enroll asked for.
func NewCmdUnenroll(ios *IOStreams, hook func(*EnrollOptions) error) *cobra.Command {
	opts := &EnrollOptions{}
	cmd := &cobra.Command{
		Use:   "unenroll",
		Short: "Stop certmonger tracking this host's libvirt-pki certificates; the files stay",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if hook != nil {
				return hook(opts)
			}
			return runUnenroll(opts, ios)
		},
	}
	opts.register(cmd, false)
	return cmd
}

func (o *EnrollOptions) register(cmd *cobra.Command, enroll bool) {
	fl := cmd.Flags()
	fl.StringVar(&o.CAName, "ca-name", DefaultCertmongerCA, "certmonger's `NAME` for the CA (getcert -c)")
	fl.BoolVar(&o.DryRun, "dry-run", false, "print the getcert commands and change nothing")
	if !enroll {
		return
	}
	fl.StringVar(&o.Root, "root", "/", "the host's root `DIR`: files go to the libvirt layout's paths under it")
	fl.StringVar(&o.Sets, "sets", credential.DefaultSet, "credential `SETS` to enroll, a comma list of "+strings.Join(credential.SetNames(), ", ")+" (novncproxy on console proxy hosts)")
	fl.StringVar(&o.Host, "host", "", "this host's `NAME[=EXTRA,...]`: CN and SANs (default: its host name, FQDN, localhost and loopback addresses)")
	fl.StringVar(&o.KeyAlgo, "key-algo", string(pki.ECDSAP256), "key algorithm certmonger makes: ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096")
	fl.StringVar(&o.HelperConfig, "helper-config", DefaultHelperConfig, "the certmonger-helper's settings `FILE` (unless --remote-signer puts them on its command line)")
	fl.StringVar(&o.Program, "program", "", "the libvirt-pki `PATH` certmonger runs for the helper and the post-save command (default: this one)")
	fl.BoolVar(&o.KeepCAFiles, "keep-ca-files", false, "leave the CA copies as they are instead of having certmonger write the signer's CA to them (during a migration, while peers still present certificates of the old CA: docs/certmonger.md)")
	fl.StringVar(&o.PostSave, "post-save", "", "post-save `COMMAND` certmonger runs after saving a certificate (default: libvirt-pki reload --root DIR)")
	o.Remote.register(fl)
}

// PostSaveCommand is the one post-save command line: reload what
// changed, for the tree under root.
func PostSaveCommand(program, root string) string {
	cmd := certmonger.ShellQuote(program) + " reload"
	if filepath.Clean(root) != "/" {
		cmd += " --root " + certmonger.ShellQuote(root)
	}
	return cmd
}

// helperCommand is the helper command line certmonger stores: the
// --remote-* settings when given (files only, no secret), else --config.
func (o *EnrollOptions) helperCommand(program string) string {
	words := []string{program, "certmonger-helper"}
	r := o.Remote
	if r.URL == "" {
		words = append(words, "--config", o.HelperConfig)
	} else {
		for _, f := range [][2]string{{"--remote-signer", r.URL}, {"--remote-auth-key-file", r.AuthKeyFile}, {"--remote-label", r.Label}, {"--remote-ca-cert", r.TLSCAFile}, {"--remote-profile-prefix", r.ProfilePrefix}} {
			if f[1] != "" {
				words = append(words, f[0], f[1])
			}
		}
		for _, i := range r.IssuerFiles {
			words = append(words, "--remote-issuer", i)
		}
	}
	for i, w := range words {
		words[i] = certmonger.ShellQuote(w)
	}
	return strings.Join(words, " ")
}

// plan checks the input and lists the requests; bad input is errs.Input.
func (o *EnrollOptions) plan() (requests []certmonger.Request, helper string, err error) {
	sets, err := credential.ParseSets(o.Sets)
	if err != nil {
		return nil, "", errs.WrapInput(err)
	}
	algo, err := pki.ParseKeyAlgo(o.KeyAlgo)
	if err != nil {
		return nil, "", errs.Inputf("--key-algo: %v", err)
	}
	host, err := layout.ThisMachine()
	if o.Host != "" {
		host, err = layout.ParseHostSpec(o.Host)
	}
	if err != nil {
		return nil, "", errs.Inputf("--host: %v", err)
	}
	if _, err := o.Remote.remote(); err != nil {
		return nil, "", errs.WrapInput(err)
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return nil, "", errs.Inputf("--root: %v", err)
	}
	program := o.Program
	if program == "" {
		if program, err = os.Executable(); err != nil {
			return nil, "", fmt.Errorf("find this program: %v", err)
		}
	}
	post := o.PostSave
	if post == "" {
		post = PostSaveCommand(program, root)
	}
	requests, err = certmonger.Plan(certmonger.PlanOptions{Layout: layout.Libvirt, Root: root, Sets: sets, Host: host, Algo: algo, CA: o.CAName, PostSave: post, KeepCAFiles: o.KeepCAFiles})
	if err != nil {
		return nil, "", errs.WrapInput(err)
	}
	return requests, o.helperCommand(program), nil
}

// printCommand writes a getcert command line as a shell would take it.
func printCommand(w io.Writer, c certmonger.Client, args []string) {
	words := []string{"getcert", args[0]}
	if c.Session {
		words = append(words, "-s")
	}
	for _, a := range args[1:] {
		words = append(words, certmonger.ShellQuote(a))
	}
	fmt.Fprintln(w, strings.Join(words, " "))
}

// clientFor is the getcert client: the system bus unless
// certmonger.BusEnv says otherwise (tests inject theirs).
func (o *EnrollOptions) clientFor() certmonger.Client {
	if o.client == (certmonger.Client{}) {
		return certmonger.ClientFromEnv()
	}
	return o.client
}

// enrollStep is one getcert command and what it is for.
type enrollStep struct {
	args []string
	what string
}

func runEnroll(o *EnrollOptions, ios *IOStreams) error {
	requests, helper, err := o.plan()
	if err != nil {
		return err
	}
	c := o.clientFor()
	if err := c.Ping(); err != nil {
		return errs.WrapInput(err)
	}
	if o.Remote.URL == "" {
		if _, err := fsutil.ReadFileFollow(o.HelperConfig, 64<<10); err != nil {
			return errs.Inputf("--helper-config: %v: write the signer's settings there (remote-signer = URL, remote-auth-key-file = FILE; docs/certmonger.md) or give --remote-signer", err)
		}
	}
	for _, n := range certmonger.FallBackOwners(requests) {
		fmt.Fprintln(ios.ErrOut, "note: "+n)
	}
	steps, unchanged, err := enrollSteps(c, o.CAName, helper, requests)
	if err != nil {
		return err
	}
	if o.DryRun {
		for _, s := range steps {
			printCommand(ios.Out, c, s.args)
		}
		return nil
	}
	var done []string
	for _, dir := range requestDirs(requests) {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			if err := os.MkdirAll(dir, layout.Libvirt.DirMode); err != nil {
				return errs.AfterWrites(fmt.Errorf("create %s: %v", dir, err), done)
			}
			done = append(done, dir)
		}
	}
	created, err := createCAFiles(requests)
	done = append(done, created...)
	if err != nil {
		return errs.AfterWrites(err, done)
	}
	for _, s := range steps {
		if err := c.Do(s.args); err != nil {
			return errs.AfterWrites(fmt.Errorf("%s: %v", s.what, err), done)
		}
		done = append(done, s.what)
		fmt.Fprintln(ios.Out, s.what)
	}
	fmt.Fprintf(ios.Out, "enroll: %d requests made, %d unchanged (certmonger CA %q). certmonger makes each key here and saves each certificate as the signer issues it: `getcert list` shows progress, `libvirt-pki verify --root %s` checks the result.\n",
		requestsMade(steps), unchanged, o.CAName, o.Root)
	return nil
}

// enrollSteps compares the plan with what certmonger tracks: the CA is
// added (or its helper changed), a request tracked differently is
// replaced, a missing one made; a request tracked as planned is left
// alone, so a second run changes nothing.
func enrollSteps(c certmonger.Client, ca, helper string, requests []certmonger.Request) (steps []enrollStep, unchanged int, err error) {
	have, known, err := c.HasCA(ca)
	if err != nil {
		return nil, 0, err
	}
	switch {
	case !known:
		steps = append(steps, enrollStep{certmonger.AddCAArgs(ca, helper), fmt.Sprintf("added CA %q", ca)})
	case have != helper:
		steps = append(steps, enrollStep{[]string{"modify-ca", "-c", ca, "-e", helper}, fmt.Sprintf("changed the helper of CA %q", ca)})
	}
	tracked, err := c.List()
	if err != nil {
		return nil, 0, err
	}
	for _, r := range requests {
		t, found := findTracked(tracked, r.ID)
		change := certmonger.Replace
		if found {
			// While certmonger works on a request the saved
			// certificate is the one it replaces: judge what it shows.
			var cert *x509.Certificate
			if t.Status == "MONITORING" {
				cert = issuedCert(r.CertFile)
			}
			change = r.Compare(t, cert)
		}
		switch {
		case change == certmonger.Unchanged:
			unchanged++
			continue
		case change == certmonger.Replace && found:
			steps = append(steps, enrollStep{[]string{"stop-tracking", "-i", r.ID}, "replaced request " + r.ID})
		case change != certmonger.Replace:
			steps = append(steps, enrollStep{r.ChangeArgs(change), fmt.Sprintf("%s %s: %s", r.ChangeArgs(change)[0], r.ID, r.CertFile)})
			continue
		}
		steps = append(steps, enrollStep{r.Args(), fmt.Sprintf("requested %s: %s", r.ID, r.CertFile)})
		if _, err := os.Lstat(r.KeyFile); err == nil {
			// certmonger would adopt a key made elsewhere (the deploy
			// host's, when migrating) and keep it across renewals.
			steps = append(steps, enrollStep{r.ChangeArgs(certmonger.Rekey), fmt.Sprintf("rekey %s: the key at %s was not made here by certmonger", r.ID, r.KeyFile)})
		}
	}
	return steps, unchanged, nil
}

// requestsMade counts the requests made or changed: not the CA's
// steps, a stop-tracking, or the rekey after adopting a key.
func requestsMade(steps []enrollStep) int {
	n := 0
	for _, s := range steps {
		adopted := strings.Contains(s.what, "was not made here")
		if (s.args[0] == "request" || s.args[0] == "resubmit" || s.args[0] == "rekey") && !adopted {
			n++
		}
	}
	return n
}

func findTracked(all []certmonger.Tracked, id string) (certmonger.Tracked, bool) {
	for _, t := range all {
		if t.ID == id {
			return t, true
		}
	}
	return certmonger.Tracked{}, false
}

// requestDirs are the directories the requests' files go to: certmonger
// does not create them.
func requestDirs(requests []certmonger.Request) []string {
	var dirs []string
	seen := map[string]bool{}
	for _, r := range requests {
		for _, f := range []string{r.CertFile, r.KeyFile, r.CAFile} {
			if d := filepath.Dir(f); f != "" && !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
		}
	}
	return dirs
}

func runUnenroll(o *EnrollOptions, ios *IOStreams) error {
	c := o.clientFor()
	if err := c.Ping(); err != nil {
		return errs.WrapInput(err)
	}
	tracked, err := c.List()
	if err != nil {
		return err
	}
	var steps [][]string
	stopped := 0
	for _, t := range tracked {
		if strings.HasPrefix(t.ID, certmonger.IDPrefix) && t.CA == o.CAName {
			steps = append(steps, []string{"stop-tracking", "-i", t.ID})
			stopped++
		}
	}
	if _, known, err := c.HasCA(o.CAName); err != nil {
		return err
	} else if known {
		steps = append(steps, []string{"remove-ca", "-c", o.CAName})
	}
	for _, s := range steps {
		if o.DryRun {
			printCommand(ios.Out, c, s)
			continue
		}
		if err := c.Do(s); err != nil {
			return err
		}
		fmt.Fprintf(ios.Out, "%s %s\n", s[0], s[len(s)-1])
	}
	if !o.DryRun {
		fmt.Fprintf(ios.Out, "unenroll: certmonger no longer tracks %d requests; their keys and certificates stay where they are.\n", stopped)
	}
	return nil
}

// issuedCert is the certificate certmonger saved at file, nil when there
// is none (yet) or it does not parse.
func issuedCert(file string) *x509.Certificate {
	data, err := fsutil.ReadFile(file, 1<<20)
	if err != nil {
		return nil
	}
	certs, err := pki.ParseCertsPEM(data)
	if err != nil {
		return nil
	}
	return certs[0]
}

// createCAFiles makes each missing CA copy, empty, with the table's
// mode: certmonger keeps the mode of a file it saves into, and makes a
// new one 0600, which QEMU and nova (not root) could not read.
func createCAFiles(requests []certmonger.Request) (created []string, err error) {
	for _, r := range requests {
		if r.CAFile == "" {
			continue
		}
		f, err := os.OpenFile(r.CAFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, r.CAMode)
		if os.IsExist(err) {
			continue
		}
		if err != nil {
			return created, fmt.Errorf("create %s: %v", r.CAFile, err)
		}
		err = f.Chmod(r.CAMode) // past the umask
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return created, fmt.Errorf("create %s: %v", r.CAFile, err)
		}
		created = append(created, r.CAFile)
	}
	return created, nil
}
