#!/usr/bin/env bash
# Remote signing speed: libvirt-pki through a cfssl signer against the
# `cfssl gencert -remote` loop an operator would script, on this machine,
# in one run (issue 15).
#
#   bash bench/remote.sh [--hosts N]
#
# Both sides get N hosts (default 1000) a server and a client certificate
# each (2N certificates, ECDSA P-256) from the same real multirootca on
# 127.0.0.1 with TLS and an HMAC auth key (internal/cfssltest starts it,
# with pki/testdata/cfssl-signer.json):
#   libvirt-pki  BenchmarkRemoteIssue: pki.RemoteCA, 16 requests in flight
#                (key, CSR, signature, our checks, key and certificate files)
#   cfssl loop   BenchmarkCFSSLGencertRemote: per certificate, one
#                `cfssl gencert -remote ... | cfssljson -bare`, one after another
# cfssl, cfssljson and multirootca are built with `go install` at the cfssl
# version go.mod requires (cached under $(go env GOCACHE)/libvirt-pki-cfssltest).
# It prints both times and the ratio, and exits 1 below the issue's 10x.
set -euo pipefail

hosts=1000
while [ $# -gt 0 ]; do
	case $1 in
	--hosts) hosts=$2; shift ;;
	-h | --help) sed -n '2,18p' "$0"; exit 0 ;;
	*) echo "bench/remote.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
case $hosts in '' | *[!0-9]* | 0) echo "bench/remote.sh: --hosts wants a positive number, not '$hosts'" >&2; exit 2 ;; esac

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PATH:/usr/local/go/bin"
certs=$((2 * hosts))
log() { printf '== %s\n' "$*" >&2; }

log "building and running both benchmarks ($hosts hosts, $certs certificates each; the cfssl loop takes a while)"
# CI=true: a failed cfssl build is an error here, not a skipped benchmark.
out=$(CI=true go test -count=1 -run '^$' -timeout 2h \
	-bench '^(BenchmarkRemoteIssue|BenchmarkCFSSLGencertRemote)$' -benchtime "${certs}x" ./pki/)
printf '%s\n' "$out" | grep -E '^(goos|goarch|cpu|Benchmark)' >&2

printf '%s\n' "$out" | awk -v hosts="$hosts" -v certs="$certs" '
	/^BenchmarkRemoteIssue/        { ours = $3 }
	/^BenchmarkCFSSLGencertRemote/ { loop = $3 }
	END {
		if (ours == "" || loop == "") { print "bench/remote.sh: a benchmark did not report" > "/dev/stderr"; exit 1 }
		printf "hosts %d (%d certificates)\n", hosts, certs
		printf "libvirt-pki via pki.RemoteCA: %.2f s (%.2f ms per certificate)\n", ours * certs / 1e9, ours / 1e6
		printf "cfssl gencert -remote loop:   %.2f s (%.2f ms per certificate)\n", loop * certs / 1e9, loop / 1e6
		ratio = loop / ours
		printf "ratio: %.1fx faster (the issue wants at least 10x)\n", ratio
		exit ratio >= 10 ? 0 : 1
	}'
