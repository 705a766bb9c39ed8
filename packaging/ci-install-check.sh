#!/usr/bin/env bash
# CI: build this machine's .deb with packaging/build.sh, install it with dpkg and
# check what a user gets: the stamped version, the man pages, the bash
# completion, the systemd units (systemd-analyze verify, man pages included),
# the enabled timer, and one real run of the expiry timer's wrapper. Then
# purge the package again. Needs root, dpkg, man-db and systemd.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

fail() { echo "ci-install-check: $*" >&2; exit 1; }

arch=$(dpkg --print-architecture) # amd64 or arm64, as Go names them
ARCHES=$arch PACKAGERS=deb bash packaging/build.sh >/tmp/ci-build.log 2>&1 || { cat /tmp/ci-build.log; exit 1; }
deb=$(ls dist/libvirt-pki_*_"$arch".deb)
version=$(dpkg-deb -f "$deb" Version)
dpkg -i "$deb" >/tmp/ci-dpkg.log 2>&1 || { cat /tmp/ci-dpkg.log; exit 1; }
trap 'dpkg --purge libvirt-pki >/dev/null 2>&1 || :' EXIT

out=$(libvirt-pki version)
echo "$out"
# The package version is the stamped one with ~ for -.
case "$out" in "libvirt-pki ${version//\~/-} commit $(git rev-parse --short=12 HEAD) built "*" linux/$arch go"*) ;; *) fail "version: $out" ;; esac
[ "$(libvirt-pki --version)" = "$out" ] || fail "--version differs from version"

man -w libvirt-pki
man -w libvirt-pki-expiry >/dev/null
man libvirt-pki-expiry 2>/dev/null | grep -q -- '--warn-days' || fail "man libvirt-pki-expiry lacks --warn-days"

comp=/usr/share/bash-completion/completions/libvirt-pki
bash -c "source $comp && complete -p libvirt-pki" | grep -q __start_libvirt-pki || fail "$comp registers no completion"
[ -s /usr/share/zsh/vendor-completions/_libvirt-pki ] && [ -s /usr/share/fish/vendor_completions.d/libvirt-pki.fish ] || fail "zsh or fish completion missing"

units=(/usr/lib/systemd/system/libvirt-pki-{expiry,renew}.{service,timer})
verify=$(systemd-analyze verify "${units[@]}" 2>&1) || fail "systemd-analyze verify: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify: $verify"
[ -L /etc/systemd/system/timers.target.wants/libvirt-pki-expiry.timer ] || fail "expiry timer not enabled on install"
[ ! -e /etc/systemd/system/timers.target.wants/libvirt-pki-renew.timer ] || fail "renew timer enabled on install"
grep -q '^LIBVIRT_PKI_ARGS=' /etc/default/libvirt-pki || fail "/etc/default/libvirt-pki missing"

# What the expiry service runs, on a real layout, into a scratch textfile dir.
tmp=$(mktemp -d)
libvirt-pki certificates --config-dir "$tmp/kolla" --hosts compute01 --domain example.org --org Example >/dev/null
mkdir "$tmp/textfile"
LIBVIRT_PKI_TEXTFILE_DIR=$tmp/textfile /usr/libexec/libvirt-pki/expiry-textfile --config-dir "$tmp/kolla"
grep -q "^x509_cert_not_after{host=\"compute01\",filename=\"servercert.pem\",filepath=\"$tmp/kolla/" "$tmp/textfile/libvirt-pki.prom" ||
	fail "no metrics in $tmp/textfile/libvirt-pki.prom"
rm -rf "$tmp"

dpkg --purge libvirt-pki >/dev/null
[ ! -e /usr/bin/libvirt-pki ] && [ ! -e /etc/systemd/system/timers.target.wants/libvirt-pki-expiry.timer ] || fail "purge left files behind"
echo "ci-install-check: $deb installs, works and purges cleanly"
