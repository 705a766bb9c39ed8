package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// CertificatesOptions holds the parsed flags of `certificates`.
type CertificatesOptions struct {
	IO *IOStreams
	layoutFlags

	Hosts          hostFlags
	Sets           setsFlags
	Bundle         bool
	Mode           string
	WildcardDomain string
	Org            string
	KeyAlgo        string
	Days, CADays   int
	RenewBefore    time.Duration
	RotateKeys     bool
	Force          bool
	DryRun         bool
	Output         string
	Verbose        bool
	PrintDNList    bool
	remote         remoteFlags
	external       externalCAFlags
	EncryptKeys    bool

	kolla kollaSettings // globals.yml, for the kolla layout
}

// NewCmdCertificates parses flags and hands them to runF (runCertificates
// unless a test substitutes it).
func NewCmdCertificates(ios *IOStreams, runF func(*CertificatesOptions) error) *cobra.Command {
	opts := &CertificatesOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "certificates",
		Short: "Make the CA and every host's libvirt server and client certificates",
		Long: `Make a CA (once) and, for every compute host, a libvirt server and client
certificate whose SANs hold every name and address clients use for the host.

Files go where Kolla Ansible looks for them (--layout kolla, the default):
  <config-dir>/config/nova/nova-libvirt/<host>/{servercert,serverkey,clientcert,clientkey}.pem
  <config-dir>/config/nova/nova-libvirt/cacert.pem
or, with --mode shared, all five files in nova-libvirt/ (one pair for every host).
--layout libvirt writes a complete host bundle <out>/<host>/ as it lies under /:
etc/pki/CA, etc/pki/libvirt, and for the sets chosen etc/pki/qemu, etc/pki/libvirt-vnc,
etc/pki/libvirt-spice, etc/pki/nova-novncproxy (proxy hosts), with the configuration
lines to add and a manifest of modes and owners in etc/libvirt-pki/; --bundle also
writes <out>/<host>.tar for tar -xpf <host>.tar -C /.
--layout pkipath writes <out>/<host>/ for virsh's ?pkipath=.

--sets chooses what to make (default libvirt): libvirt (libvirtd's TLS), qemu (QEMU
native TLS for migration and NBD), vnc and spice (the console servers), novncproxy
(the console proxy's VeNCrypt client pair, for --proxy-host or the inventory's
nova-novncproxy group).

The CA is kept in <config-dir>/certificates/libvirt/ (kolla) or <out>/ca/ (others),
where nothing Kolla distributes picks it up. Re-runs change only what must change:
new hosts, changed names, certificates from another CA, or ones expiring within
--renew-before. Without hosts, it makes an all-in-one set for this machine.

A CA whose key is elsewhere: --remote-signer URL signs through a cfssl signer
(multirootca, cfssl serve); for a CA without an API, --ca-cert CA.pem --csr-only writes
keys, CSRs and csr-manifest.json, and --import DIR installs what it signed, each
certificate checked first (docs/remote-signing.md).

Defaults: ECDSA P-256 keys, leaves valid 730 days, the CA 3650 days.`,
		Example: `  libvirt-pki certificates --config-dir /etc/kolla --hosts compute01,compute02 --domain example.org
  libvirt-pki certificates --host compute01=10.0.0.11,compute01.mgmt --dry-run
  libvirt-pki certificates --layout pkipath --out ./pki --hosts compute01`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runCertificates(opts)
		},
	}
	fl := cmd.Flags()
	opts.layoutFlags.register(fl, withCADir|withExternalCA|withLock)
	opts.Hosts.register(cmd)
	opts.Sets.register(fl)
	fl.BoolVar(&opts.Bundle, "bundle", false, "--layout libvirt: also write <out>/<host>.tar with modes and owners, for tar -xpf <host>.tar -C /")
	fl.StringVar(&opts.Mode, "mode", "per-host", "per-host: a pair of certificates per host; shared: one pair for all hosts")
	fl.StringVar(&opts.WildcardDomain, "wildcard-domain", "", "shared mode: add *.`DOMAIN` to the server certificate")
	fl.StringVar(&opts.Org, "org", "", "organization (O) in every certificate's subject")
	fl.StringVar(&opts.KeyAlgo, "key-algo", string(pki.ECDSAP256), "key algorithm: ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096")
	fl.IntVar(&opts.Days, "days", pki.DefaultLeafDays, "validity of server and client certificates, in days")
	fl.IntVar(&opts.CADays, "ca-days", pki.DefaultCADays, "validity of a new CA, in days")
	durationVar(fl, &opts.RenewBefore, "renew-before", 30*24*time.Hour, "re-issue certificates expiring within this `DURATION`")
	fl.BoolVar(&opts.RotateKeys, "rotate-keys", false, "make new private keys for re-issued certificates (kept otherwise)")
	fl.BoolVar(&opts.Force, "force", false, "re-issue every server and client certificate (never the CA)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the plan and write nothing")
	fl.StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	fl.BoolVarP(&opts.Verbose, "verbose", "v", false, "list unchanged certificates too")
	fl.BoolVar(&opts.EncryptKeys, "encrypt-keys", false, "write private keys (and the CA key) as ansible-vault files with the --vault-password-file/--vault-id password; Kolla's copy tasks decrypt them on deploy. A vaulted tree stays vaulted")
	opts.remote.register(fl)
	opts.external.register(fl)
	fl.BoolVar(&opts.PrintDNList, "print-dn-list", false, "after the run, print only libvirtd.conf's tls_allowed_dn_list for the issued client certificates")
	return cmd
}

func runCertificates(opts *CertificatesOptions) error {
	o, err := opts.engineOptions()
	if err != nil {
		return err
	}
	if err := checkOutput(opts.Output, textFormats); err != nil {
		return err
	}
	if !opts.DryRun {
		guard, err := opts.lockTrees(opts.IO, o.Layout, o.Root, o.CADir)
		if err != nil {
			return err
		}
		defer guard.Unlock()
	}
	plan, err := certs.MakePlan(o)
	if err != nil {
		return err
	}
	if plan.Opts.Bundle && plan.Opts.Keys.Encrypt {
		// tar unpacks a vault file as it is: libvirtd could not read it.
		return usageErrorf("--bundle: the keys are ansible-vault encrypted, and tar -xpf would put them on the host encrypted; deploy the host directory with Ansible's copy module (it decrypts them), or make the tree without --encrypt-keys")
	}
	notes := opts.IO.Out
	if opts.Output == "json" || opts.PrintDNList {
		notes = opts.IO.ErrOut
	}
	opts.Hosts.printWarnings(notes)
	opts.kolla.report(notes, true, false)
	for _, n := range plan.Notes {
		fmt.Fprintln(notes, "note: "+n)
	}
	if opts.external.CSROnly && !opts.DryRun {
		return writeCSRs(opts, plan)
	}
	if !opts.DryRun {
		var bar *progressBar
		if opts.Output != "json" {
			bar = newProgressBar(opts.IO.ErrOut, "Issuing certificates")
		}
		err := plan.Apply(bar.callback())
		bar.Done()
		if err != nil {
			return err
		}
	}
	if opts.PrintDNList {
		return writeDNList(opts.IO.Out, plan)
	}
	if opts.Output == "json" {
		return writeCertificatesJSON(opts.IO.Out, plan, opts.DryRun)
	}
	writeCertificatesText(opts.IO.Out, plan, opts)
	return nil
}

// engineOptions checks the flags and turns them into the engine's options.
func (opts *CertificatesOptions) engineOptions() (certs.Options, error) {
	var o certs.Options
	l, err := layout.ByName(opts.LayoutName)
	if err != nil {
		return o, usageError{err}
	}
	algo, err := pki.ParseKeyAlgo(opts.KeyAlgo)
	if err != nil {
		return o, usageError{err}
	}
	switch opts.Mode {
	case "per-host", "shared":
	default:
		return o, usageErrorf("--mode %q: want per-host or shared", opts.Mode)
	}
	if opts.Days <= 0 || opts.CADays <= 0 {
		return o, usageErrorf("--days and --ca-days must be positive")
	}
	if opts.WildcardDomain != "" && opts.Mode != "shared" {
		return o, usageErrorf("--wildcard-domain needs --mode shared")
	}
	hosts, _, err := opts.Hosts.resolve()
	if err != nil {
		return o, err
	}
	o = certs.Options{
		Layout: l, Hosts: hosts, Shared: opts.Mode == "shared", WildcardDomain: opts.WildcardDomain,
		Org: opts.Org, Algo: algo, Days: opts.Days, CADays: opts.CADays, RenewBefore: opts.RenewBefore,
		RotateKeys: opts.RotateKeys, Force: opts.Force, CACertFile: opts.CACert, CAKeyFile: opts.CAKey,
	}
	if o.Root, o.CADir, opts.kolla, err = opts.roots(l); err != nil {
		return o, err
	}
	if o.Sets, err = opts.Sets.sets(opts.kolla.DefaultSets()); err != nil {
		return o, err
	}
	if o.ProxyHosts, err = opts.Sets.proxies(opts.Hosts.Selection, o.Sets); err != nil {
		return o, err
	}
	o.Bundle = opts.Bundle
	if o.Remote, err = opts.remote.remote(); err != nil {
		return o, err
	}
	o.CSROnly, o.ImportDir = opts.external.CSROnly, opts.external.ImportDir
	if o.CSROnly && (opts.Bundle || opts.PrintDNList) {
		return o, usageErrorf("--csr-only writes keys and CSRs only: --bundle and --print-dn-list come with --import")
	}
	if o.Keys, err = keysOf(opts.vault, opts.EncryptKeys); err != nil {
		return o, err
	}
	o.Top, err = opts.top(l)
	return o, err
}

func writeCertificatesText(w io.Writer, plan *certs.Plan, opts *CertificatesOptions) {
	verb := map[certs.Action]string{certs.Create: "created", certs.Reissue: "re-issued", certs.Unchanged: "unchanged", certs.Update: "updated"}
	if opts.DryRun {
		verb = map[certs.Action]string{certs.Create: "would create", certs.Reissue: "would re-issue", certs.Unchanged: "unchanged", certs.Update: "would update"}
		fmt.Fprintln(w, "Dry run: nothing was written.")
	}
	ca := plan.CA
	switch ca.Source {
	case "new":
		fmt.Fprintf(w, "CA: %s %q, valid until %s\n", verb[certs.Create], ca.Subject, ca.NotAfter.Format("2006-01-02"))
	case "existing":
		fmt.Fprintf(w, "CA: using %q, valid until %s\n", ca.Subject, ca.NotAfter.Format("2006-01-02"))
	case "remote":
		fmt.Fprintf(w, "CA: signing through %s (%q), valid until %s; its certificate in %s\n", opts.remote.URL, ca.Subject, ca.NotAfter.Format("2006-01-02"), ca.CertPath)
	default:
		fmt.Fprintf(w, "CA: signing with %s (%q), valid until %s\n", ca.CertPath, ca.Subject, ca.NotAfter.Format("2006-01-02"))
	}
	if ca.KeyPath != "" {
		fmt.Fprintf(w, "    certificate %s\n    key         %s (0600: keep it private; Kolla never deploys it)\n", ca.CertPath, ca.KeyPath)
	}
	for _, f := range plan.CAFiles {
		if f.Action != certs.Unchanged || opts.Verbose {
			fmt.Fprintf(w, "%s %s: %s\n", filepath.Base(f.Path), verb[f.Action], f.Path)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	shown := 0
	for _, l := range plan.Leaves {
		if l.Action == certs.Unchanged && !opts.Verbose {
			continue
		}
		why := l.Reasons
		switch {
		case l.Action == certs.Unchanged || l.Action == certs.Update:
		case l.NewKey:
			why = append(why, "new key")
		default:
			why = append(why, "key kept")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Host, l.Profile, verb[l.Action], strings.Join(why, "; "))
		shown++
	}
	tw.Flush()
	for _, warn := range plan.Warnings {
		fmt.Fprintln(w, "warning: "+warn)
	}
	s := plan.Summary()
	total := len(plan.Leaves)
	if s[certs.Unchanged] == total {
		fmt.Fprintf(w, "All %d certificates unchanged in %s.\n", total, plan.Opts.Root)
		return
	}
	var counts []string
	for _, a := range []certs.Action{certs.Create, certs.Reissue, certs.Update, certs.Unchanged} {
		if s[a] > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", s[a], verb[a]))
		}
	}
	fmt.Fprintf(w, "Certificates: %s; files in %s\n", strings.Join(counts, ", "), plan.Opts.Root)
	writeBundleHint(w, plan, opts.DryRun)
	if !opts.DryRun && plan.Opts.Layout.ConfigRooted {
		if opts.kolla.tls() {
			fmt.Fprintln(w, "Next: kolla-ansible reconfigure -t nova")
		} else {
			fmt.Fprintln(w, `Next: set libvirt_tls: "yes" in globals.yml and run: kolla-ansible reconfigure -t nova`)
		}
	}
}

// writeBundleHint says where a run's host bundles are and how to install
// them.
func writeBundleHint(w io.Writer, plan *certs.Plan, dryRun bool) {
	o := plan.Opts
	if o.Layout.BundleDir == "" || dryRun {
		return
	}
	fmt.Fprintf(w, "Host bundles (sets %s): %s/<host>/ as it lies under /; the lines to add to each configuration file and MANIFEST.tsv are in <host>/%s/\n",
		strings.Join(o.Sets, ","), o.Root, o.Layout.BundleDir)
	if o.Bundle {
		fmt.Fprintf(w, "Install on each host, as root: tar -xpf %s/<host>.tar -C /\n", o.Root)
	}
}

type certificatesJSON struct {
	DryRun       bool             `json:"dry_run"`
	Layout       string           `json:"layout"`
	Sets         []string         `json:"sets"`
	Notes        []string         `json:"notes"`
	Root         string           `json:"root"`
	CA           caJSON           `json:"ca"`
	CACertFiles  []certs.FilePlan `json:"cacert_files"`
	Certificates []leafJSON       `json:"certificates"`
	Warnings     []string         `json:"warnings"`
	Summary      map[string]int   `json:"summary"`
}

type caJSON struct {
	Source   string    `json:"source"`
	CertPath string    `json:"cert_path"`
	KeyPath  string    `json:"key_path,omitempty"`
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"not_after"`
}

type leafJSON struct {
	Host     string       `json:"host"`
	Profile  string       `json:"profile"`
	Action   certs.Action `json:"action"`
	Reasons  []string     `json:"reasons"`
	NewKey   bool         `json:"new_key"`
	SANs     []string     `json:"sans"`
	CertPath string       `json:"cert_path"`
	Copies   []string     `json:"copies,omitempty"`
	NotAfter *time.Time   `json:"not_after,omitempty"`
}

func writeCertificatesJSON(w io.Writer, plan *certs.Plan, dryRun bool) error {
	doc := certificatesJSON{
		DryRun: dryRun, Layout: plan.Opts.Layout.Name, Sets: plan.Opts.Sets, Notes: plan.Notes, Root: plan.Opts.Root,
		CA:          caJSON{plan.CA.Source, plan.CA.CertPath, plan.CA.KeyPath, plan.CA.Subject, plan.CA.NotAfter},
		CACertFiles: plan.CAFiles, Warnings: plan.Warnings, Summary: map[string]int{},
	}
	if doc.Warnings == nil {
		doc.Warnings = []string{}
	}
	if doc.Notes == nil {
		doc.Notes = []string{}
	}
	for a, n := range plan.Summary() {
		doc.Summary[string(a)] = n
	}
	for _, l := range plan.Leaves {
		lj := leafJSON{Host: l.Host, Profile: l.Profile, Action: l.Action, Reasons: l.Reasons, NewKey: l.NewKey, SANs: l.SANs, CertPath: l.File, Copies: l.Copies}
		if lj.Reasons == nil {
			lj.Reasons = []string{}
		}
		if lj.NotAfter = l.NewNotAfter; lj.NotAfter == nil && !l.OldNotAfter.IsZero() {
			na := l.OldNotAfter
			lj.NotAfter = &na
		}
		doc.Certificates = append(doc.Certificates, lj)
	}
	return writeJSONTo(w, doc)
}

// writeDNList prints tls_allowed_dn_list for libvirtd.conf: the DN of every
// client certificate the layout holds, so libvirtd admits only our clients.
func writeDNList(w io.Writer, plan *certs.Plan) error {
	dns, err := plan.ClientDNs()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "tls_allowed_dn_list = [\"%s\"]\n", strings.Join(dns, `", "`))
	return err
}

// writeCSRs runs --csr-only's writes and reports them.
func writeCSRs(opts *CertificatesOptions, plan *certs.Plan) error {
	res, err := plan.WriteCSRs()
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		return writeJSONTo(opts.IO.Out, res)
	}
	writeCSRText(opts.IO.Out, res)
	return nil
}
