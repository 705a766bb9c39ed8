#!/usr/bin/env bash
# Time `libvirt-pki report` on a per-host Kolla tree of N hosts and load
# its page in headless Chromium; print a Markdown table for
# docs/benchmarks.md.
#
#   bash bench/report.sh [N]        (default 10000)
#
# It makes the tree with `libvirt-pki certificates` (ECDSA P-256, a server
# and a client pair per host), then runs `report --no-lint` and `report`
# under GNU time (wall, user and system CPU, peak RSS), and loads the
# second page with internal/chromiumtest (Debian's chromium over the
# DevTools pipe: the load event's end from navigation start, and that the
# page logged nothing and fetched nothing). Needs go, GNU time, chromium.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
n=${1:-10000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

go build -o "$work/libvirt-pki" "$repo/cmd/libvirt-pki"
log "making $n hosts"
hosts=$(seq -f "compute%05g" 0 $((n - 1)) | paste -sd,)
"$work/libvirt-pki" certificates --config-dir "$work/kolla" --hosts "$hosts" >/dev/null

row() { # label, then report's flags
	local label=$1; shift
	/usr/bin/time -f "%e %U %S %M" -o "$work/time" "$work/libvirt-pki" report --config-dir "$work/kolla" --now 2027-01-01 -o "$work/page.html" "$@"
	read -r wall user sys rss <"$work/time"
	size=$(stat -c %s "$work/page.html")
	awk -v n="$n" -v l="$label" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v z="$size" \
		'BEGIN { printf "| %s | %s | %s | %s | %s | %.1f | %.1f |\n", n, l, w, u, s, r / 1024, z / 1048576 }'
}
echo "| hosts | run | wall s | user s | sys s | peak RSS MiB | page MiB |"
echo "|---:|---|---:|---:|---:|---:|---:|"
row "report --no-lint"  --no-lint
row "report (with zlint)"
log "loading the page in chromium"
load=$(cd "$repo" && CHROMIUM_LOAD_FILE="$work/page.html" go test -count=1 -run TestLoadFile -v ./internal/chromiumtest | sed -n 's/.*load event end \([0-9]*\) ms.*/\1/p')
echo
echo "Chromium load event end: ${load} ms ($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))."
