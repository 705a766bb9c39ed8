#!/usr/bin/env bash
# Regenerate docs/report-sample.png, the screenshot of `libvirt-pki report`
# shown in README.md: a six-host libvirt-layout tree with an expired host
# pair, a key that is not its certificate's, a revoked host and a CRL due
# within 90 days, reported as of 60 days from now, loaded in headless
# Chromium (Debian's chromium) at 1280x2000.
#
#   bash docs/report-screenshot.sh [OUTPUT.png]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
png=${1:-$repo/docs/report-sample.png}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/libvirt-pki" "$repo/cmd/libvirt-pki"
lp() { "$work/libvirt-pki" "$@" >/dev/null; }
out=$work/pki
lp certificates --layout libvirt --out "$out" --ca-days 400 --days 365 \
	--host compute01=compute01.example.org,10.0.0.11 --host compute02=compute02.example.org,10.0.0.12 \
	--host compute03=compute03.example.org --host compute04=compute04.example.org \
	--host compute05=compute05.example.org --host compute06=compute06.example.org
lp certificates --layout libvirt --out "$out" --force --days 30 --host compute01=compute01.example.org,10.0.0.11
cp "$out/compute03/etc/pki/libvirt/private/serverkey.pem" "$out/compute02/etc/pki/libvirt/private/serverkey.pem"
lp revoke --layout libvirt --out "$out" --host compute04
now=$(date -u -d '+60 days' +%Y-%m-%dT12:00:00Z)
"$work/libvirt-pki" report --layout libvirt --out "$out" --now "$now" -o "$work/report.html"

chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync \
	--hide-scrollbars --user-data-dir="$work/profile" --window-size=1280,2000 \
	--screenshot="$png" "file://$work/report.html" 2>/dev/null
echo "wrote $png"
