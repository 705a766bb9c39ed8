package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/libvirt-pki/libvirt-pki/certs"
	"github.com/libvirt-pki/libvirt-pki/layout"
	"github.com/libvirt-pki/libvirt-pki/pki"
)

// RotateCAOptions holds the parsed flags of `rotate-ca STEP`.
type RotateCAOptions struct {
	IO *IOStreams

	Step string // start, reissue, finish or status

	layoutFlags
	KeyAlgo, Org string
	CADays, Days int
	DryRun       bool
	Output       string
	remote       remoteFlags
}

// rotateSteps are the subcommands, in the order they are run.
var rotateSteps = []struct{ name, short string }{
	{"start", "Make the next CA and bundle it with the current one in every cacert.pem"},
	{"reissue", "Make the next CA current and re-issue every certificate with it"},
	{"finish", "Make every cacert.pem hold the new CA alone and retire the old one"},
	{"status", "Say which rotation step the layout is in"},
}

// rotateCALong is rotate-ca's help: the steps and the order of deploys.
const rotateCALong = `Replace the CA that libvirt-pki made, without a moment when two peers do not
trust each other. Deploy the files to every host and reload after each step, before
the next one (host bundles: libvirt-pki install --reload <host>.tar on each host, or
ansible/rollout.yml; each step refreshes every existing <host>.tar; Kolla:
kolla-ansible reconfigure -t nova):

  start    makes the next CA in <ca-dir>/next/ and writes every cacert.pem as the
           bundle current+next. Deploy everywhere first: every peer trusts both CAs.
  reissue  makes the next CA current (the old one moves to <ca-dir>/previous/) and
           re-issues every server and client certificate with it, keeping subjects,
           SANs and keys. Deploy: peers present new certificates everyone trusts.
  finish   writes every cacert.pem with the new CA alone and renames previous/ to
           retired-<date>/. Deploy: the old CA is trusted no more.
  status   says which step the layout is in and which CA signed what.

Steps out of order fail with exit status 2 and write nothing. certificates keeps
working during a rotation (it signs with whichever CA is current).`

const rotateCAExample = `  libvirt-pki rotate-ca start --config-dir /etc/kolla
  kolla-ansible reconfigure -t nova
  libvirt-pki rotate-ca reissue --config-dir /etc/kolla
  kolla-ansible reconfigure -t nova
  libvirt-pki rotate-ca finish --config-dir /etc/kolla
  kolla-ansible reconfigure -t nova
  libvirt-pki rotate-ca start --layout libvirt --out ./hosts
  ansible-playbook -i inventory ansible/rollout.yml -e libvirt_pki_bundle_dir=$PWD/hosts`

// NewCmdRotateCA builds `rotate-ca` and its step subcommands; each parses
// its flags and hands them to runF (runRotateCA by default).
func NewCmdRotateCA(ios *IOStreams, runF func(*RotateCAOptions) error) *cobra.Command {
	opts := &RotateCAOptions{IO: ios}
	cmd := &cobra.Command{
		Use:     "rotate-ca start|reissue|finish|status",
		Short:   "Replace the CA without downtime, in steps run between deploys",
		Long:    rotateCALong,
		Example: rotateCAExample,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("rotate-ca: unknown step %q (want start, reissue, finish or status)", args[0])
			}
			return nil
		},
		RunE: func(*cobra.Command, []string) error {
			return usageErrorf("rotate-ca: name a step: start, reissue, finish or status")
		},
	}
	for _, s := range rotateSteps {
		step := s.name
		sub := &cobra.Command{
			Use:   step,
			Short: s.short,
			Args:  cobra.NoArgs,
			RunE: func(c *cobra.Command, _ []string) error {
				opts.Step = step
				opts.flags = c.Flags()
				opts.vault = vaultFlagsOf(c.Flags()) // each step has its own flags
				if runF != nil {
					return runF(opts)
				}
				return runRotateCA(opts)
			},
		}
		fl := sub.Flags()
		with := withCADir
		if step != "status" {
			with |= withLock
		}
		opts.layoutFlags.register(fl, with)
		// Accepted only to refuse clearly: an external CA is not ours to rotate.
		fl.StringVar(&opts.CACert, "ca-cert", "", "not supported: rotation manages only CAs made by libvirt-pki")
		fl.StringVar(&opts.CAKey, "ca-key", "", "not supported (see --ca-cert)")
		fl.StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
		if step != "status" {
			fl.BoolVar(&opts.DryRun, "dry-run", false, "say what the step would do and write nothing")
		}
		switch step {
		case "start":
			fl.StringVar(&opts.KeyAlgo, "key-algo", "", "the next CA's key algorithm (default: the current CA's)")
			fl.StringVar(&opts.Org, "org", "", "the next CA's organization (O) (default: the current CA's)")
			fl.IntVar(&opts.CADays, "ca-days", pki.DefaultCADays, "validity of the next CA, in days")
		case "reissue":
			fl.IntVar(&opts.Days, "days", pki.DefaultLeafDays, "validity of the re-issued certificates, in days")
		}
		if step == "start" || step == "reissue" {
			opts.remote.register(fl) // the next CA is a signer's (docs/remote-signing.md)
		}
		cmd.AddCommand(sub)
	}
	return cmd
}

func runRotateCA(opts *RotateCAOptions) error {
	if err := checkOutput(opts.Output, textFormats); err != nil {
		return err
	}
	if opts.CACert != "" || opts.CAKey != "" {
		return usageErrorf("rotate-ca rotates only a CA that libvirt-pki made and keeps in its CA directory; --ca-cert names an external CA, and certificates will not switch a tree to another CA (its hosts would stop trusting each other): make the new CA's tree anew, with another --config-dir or --out")
	}
	l, err := layout.ByName(opts.LayoutName)
	if err != nil {
		return usageError{err}
	}
	o := certs.RotateOptions{Layout: l, Org: opts.Org, CADays: opts.CADays, Days: opts.Days, DryRun: opts.DryRun}
	if opts.KeyAlgo != "" {
		if o.Algo, err = pki.ParseKeyAlgo(opts.KeyAlgo); err != nil {
			return usageError{err}
		}
	}
	if opts.Step == "start" && opts.CADays <= 0 || opts.Step == "reissue" && opts.Days <= 0 {
		return usageErrorf("--days and --ca-days must be positive")
	}
	if o.Keys, err = keysOf(opts.vault, false); err != nil {
		return err
	}
	if o.Remote, err = opts.remote.remote(); err != nil {
		return err
	}
	if o.Remote != nil && opts.Step == "start" && (opts.KeyAlgo != "" || opts.Org != "" || opts.flags.Changed("ca-days")) {
		return usageErrorf("rotate-ca start --remote-signer: the signer's CA is the next CA; --key-algo, --org and --ca-days are for a CA libvirt-pki makes")
	}
	var unlock func()
	if o.Root, o.CADir, o.Top, unlock, err = opts.tree(opts.IO, l, opts.Step != "status" && !opts.DryRun); err != nil {
		return err
	}
	defer unlock()
	w := opts.IO.Out
	if opts.Step == "status" {
		st, err := certs.Status(o)
		if err != nil {
			return err
		}
		if opts.Output == "json" {
			return writeJSONTo(w, st)
		}
		writeRotationStatus(w, st)
		return nil
	}
	var res *certs.RotateResult
	switch opts.Step {
	case "start":
		res, err = certs.RotateStart(o)
	case "reissue":
		res, err = certs.RotateReissue(o)
	case "finish":
		res, err = certs.RotateFinish(o)
	default:
		return usageErrorf("rotate-ca: unknown step %q", opts.Step)
	}
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		return writeJSONTo(w, res)
	}
	writeRotateText(w, res, l)
	return nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func caByRole(cas []certs.RotationCA, role string) *certs.RotationCA {
	for i := range cas {
		if cas[i].Role == role {
			return &cas[i]
		}
	}
	return nil
}

func writeRotateText(w io.Writer, res *certs.RotateResult, l layout.Layout) {
	would := func(done, dry string) string {
		if res.DryRun {
			return dry
		}
		return done
	}
	if res.DryRun {
		fmt.Fprintln(w, "Dry run: nothing was written.")
	}
	describe := func(ca *certs.RotationCA) string {
		return fmt.Sprintf("%q (%s, valid until %s)", ca.Subject, ca.KeyAlgo, ca.NotAfter.Format("2006-01-02"))
	}
	switch res.Step {
	case "start":
		if next := caByRole(res.CAs, "next"); next != nil {
			fmt.Fprintf(w, "Next CA: %s in %s\n", describe(next), next.Dir)
		}
		if cur := caByRole(res.CAs, "current"); cur != nil {
			fmt.Fprintf(w, "Current CA (still signing): %s\n", describe(cur))
		}
	case "reissue":
		// A dry run reports the CAs as they are, before the swap.
		if next := caByRole(res.CAs, "next"); res.DryRun && next != nil {
			fmt.Fprintf(w, "Would make current: %s\n", describe(next))
			if cur := caByRole(res.CAs, "current"); cur != nil {
				fmt.Fprintf(w, "Would keep as previous: %s\n", describe(cur))
			}
			break
		}
		if cur := caByRole(res.CAs, "current"); cur != nil {
			fmt.Fprintf(w, "Current CA: %s\n", describe(cur))
		}
		if prev := caByRole(res.CAs, "previous"); prev != nil {
			fmt.Fprintf(w, "Previous CA (kept in %s): %s\n", prev.Dir, describe(prev))
		}
	case "finish":
		if cur := caByRole(res.CAs, "current"); cur != nil {
			fmt.Fprintf(w, "Current CA: %s\n", describe(cur))
		}
		if prev := caByRole(res.CAs, "previous"); prev != nil {
			fmt.Fprintf(w, "Previous CA %q %s %s\n", prev.Subject, would("retired to", "would be retired to"), res.Retired)
		}
	}
	for _, f := range res.CAFiles {
		action := "unchanged"
		if f.Action != certs.Unchanged {
			action = would("updated", "would update")
		}
		fmt.Fprintf(w, "cacert.pem %s (%s): %s\n", action, plural(res.BundleCerts, "certificate"), f.Path)
	}
	if res.Leaves != nil {
		writeRenewText(w, res.Leaves, false, "re-issued", true)
	}
	if res.DryRun {
		return
	}
	writeTarballs(w, res.Tarballs)
	if order, ok := rotateOrder[res.Step]; ok {
		writeDeployHint(w, l, order.what)
		fmt.Fprintln(w, order.then)
	}
}

// rotateOrder is, per step, what to deploy and what must hold before the
// next step: the new CA trusted everywhere before any host presents a
// certificate it signed, and the old CA dropped only once no host
// presents one the old CA signed.
var rotateOrder = map[string]struct{ what, then string }{
	"start": {"cacert.pem (the bundle of the current and the next CA) to EVERY host, and reload",
		"Then, once every host has loaded the bundle (no leaf changed yet): libvirt-pki rotate-ca reissue"},
	"reissue": {"the re-issued certificates to every host, and reload (every host trusts the new CA already, so any host order works)",
		"Then, once no host presents a certificate from the old CA (libvirt-pki verify --live): libvirt-pki rotate-ca finish"},
	"finish": {"cacert.pem (the new CA alone) to every host, and reload: the old CA is trusted no more",
		"The rotation is complete once every host has loaded it."},
}

func writeRotationStatus(w io.Writer, st *certs.RotationStatus) {
	fmt.Fprintf(w, "Rotation: %s\n", st.State)
	fmt.Fprintf(w, "Next step: %s\n", st.NextStep)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, ca := range st.CAs {
		fmt.Fprintf(tw, "%s CA\t%q\t%s\tuntil %s\t%s\n", ca.Role, ca.Subject, ca.KeyAlgo, ca.NotAfter.Format("2006-01-02"), ca.Dir)
	}
	tw.Flush()
	fmt.Fprintf(w, "cacert.pem files: %s\n", countsLine(st.CACertCounts))
	fmt.Fprintf(w, "certificates signed by: %s\n", countsLine(st.LeafCounts))
}

// countsLine prints {"current+next": 3} as "3 current+next", sorted.
func countsLine(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	return strings.Join(parts, ", ")
}
