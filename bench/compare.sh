#!/usr/bin/env bash
# Compare `libvirt-pki certificates` with the other ways of making the same
# files, on this machine, in one run, and write docs/benchmarks.md and
# docs/benchmarks.png.
#
#   bash bench/compare.sh [--large] [options]
#
# For N = 100 and 1000 hosts (and 10000 with --large), ECDSA P-256 and
# RSA-3072, per-host Kolla layout (a server and a client pair per host), it
# times:
#   libvirt-pki  `libvirt-pki certificates` (all cores), wall time and peak RSS
#   tmpfs        the same with its output on /dev/shm (ECDSA only): the run
#                without the disk, to tell file-system cost from our own
#   openssl      a shell loop: CA once, then per host and per certificate
#                `openssl genpkey`, `openssl req -new`, `openssl x509 -req`
#                with CA:FALSE, keyUsage digitalSignature+keyEncipherment,
#                EKU serverAuth/clientAuth and the SANs (one after another)
#   cfssl        a shell loop of `cfssl gencert -ca -ca-key -config -profile
#                -hostname | cfssljson -bare`, per host and certificate
#                (cfssl v1.6.5, built from the Go module proxy)
#   floor        bench/floor: key generation and crypto/x509 signing alone,
#                in process, on all cores, writing nothing
#
# Options:
#   --large              also N = 10000
#   --sizes "N ..."      host counts (default "100 1000", with --large "100 1000 10000")
#   --algos "A ..."      ecdsa-p256 and/or rsa-3072 (default both)
#   --openssl-max N      skip the openssl loop above N hosts (default 1000)
#   --openssl-rsa-max N  the same for RSA-3072 (default 100): openssl's
#                        RSA-3072 key generation takes ~0.6 s per key on a
#                        2-core EPYC VM, ~20 minutes for 1000 hosts
#   --cfssl-max N        skip the cfssl loop above N hosts (default 10000)
#   --docs DIR           where benchmarks.md and benchmarks.png go (default docs/)
#   --workdir DIR        where outputs are written (default a new directory in $TMPDIR)
#
# Needs: go, openssl, GNU time (/usr/bin/time, Debian package `time`) and
# gnuplot (gnuplot-nox); as root it installs the missing Debian packages.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sizes=""
large=0
algos="ecdsa-p256 rsa-3072"
openssl_max=1000
openssl_rsa_max=100
cfssl_max=10000
docs=$repo/docs
workparent=${TMPDIR:-/tmp}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	--large) large=1 ;;
	--sizes) sizes=$2; shift ;;
	--algos) algos=$2; shift ;;
	--openssl-max) openssl_max=$2; shift ;;
	--openssl-rsa-max) openssl_rsa_max=$2; shift ;;
	--cfssl-max) cfssl_max=$2; shift ;;
	--docs) docs=$2; shift ;;
	--workdir) workparent=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$sizes" ]; then
	sizes="100 1000"
	[ $large = 1 ] && sizes="100 1000 10000"
fi
for a in $algos; do
	case $a in ecdsa-p256 | rsa-3072) ;; *) echo "compare.sh: --algos: $a: want ecdsa-p256 or rsa-3072" >&2; exit 2 ;; esac
done

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- tools --------------------------------------------------------------
need_pkgs=()
[ -x /usr/bin/time ] || need_pkgs+=(time)
command -v gnuplot >/dev/null || need_pkgs+=(gnuplot-nox)
command -v openssl >/dev/null || need_pkgs+=(openssl)
if [ ${#need_pkgs[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "compare.sh: missing ${need_pkgs[*]}: apt-get install -y ${need_pkgs[*]} (as root)" >&2
		exit 1
	fi
	log "installing ${need_pkgs[*]}"
	apt-get install -y "${need_pkgs[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "${need_pkgs[@]}" >/dev/null; }
fi

tmp=$(mktemp -d "$workparent/libvirt-pki-bench.XXXXXX")
shm=""
cleanup() {
	rm -rf "$tmp"
	[ -z "$shm" ] || rm -rf "$shm"
}
trap cleanup EXIT
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
	shm=$(mktemp -d /dev/shm/libvirt-pki-bench.XXXXXX)
fi
bin=$tmp/bin
mkdir -p "$bin"

log "building libvirt-pki and bench/floor"
(cd "$repo" && go build -o "$bin/libvirt-pki" ./cmd/libvirt-pki && go build -o "$bin/floor" ./bench/floor)
log "building cfssl and cfssljson v1.6.5 (Go module proxy)"
(cd "$tmp" && GOFLAGS= GOBIN=$bin go install github.com/cloudflare/cfssl/cmd/cfssl@v1.6.5 github.com/cloudflare/cfssl/cmd/cfssljson@v1.6.5)

# --- the loops ----------------------------------------------------------
# Hosts are computeNNNNN with NAME.example.org and 10.x.y.z, for every tool.

cat >"$tmp/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = libvirt-pki CA
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $ENV::SAN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectAltName = $ENV::SAN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

cat >"$tmp/openssl-loop.sh" <<'EOF'
set -euo pipefail
dir=$1 n=$2 algo=$3 cnf=$4
case $algo in
ecdsa-p256) kopt=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256) ;;
rsa-3072) kopt=(-algorithm RSA -pkeyopt rsa_keygen_bits:3072) ;;
esac
export SAN=DNS:ca
ca=$dir/certificates/libvirt nl=$dir/config/nova/nova-libvirt
mkdir -p "$ca" "$nl"
(umask 077 && openssl genpkey "${kopt[@]}" -out "$ca/cakey.pem" 2>/dev/null)
openssl req -config "$cnf" -new -x509 -key "$ca/cakey.pem" -extensions ca -days 3650 -out "$ca/cacert.pem"
cp "$ca/cacert.pem" "$nl/cacert.pem"
for ((i = 0; i < n; i++)); do
	printf -v h 'compute%05d' "$i"
	d=$nl/$h
	mkdir -p "$d"
	export SAN="DNS:$h,DNS:$h.example.org,IP:10.$((i >> 16 & 255)).$((i >> 8 & 255)).$((i & 255))"
	for p in server client; do
		(umask 077 && openssl genpkey "${kopt[@]}" -out "$d/${p}key.pem" 2>/dev/null)
		openssl req -config "$cnf" -new -key "$d/${p}key.pem" -subj "/CN=$h" -out "$d/$p.csr"
		openssl x509 -req -in "$d/$p.csr" -CA "$ca/cacert.pem" -CAkey "$ca/cakey.pem" -days 730 \
			-extfile "$cnf" -extensions "$p" -out "$d/${p}cert.pem" 2>/dev/null
	done
done
EOF

cat >"$tmp/cfssl-loop.sh" <<'EOF'
set -euo pipefail
dir=$1 n=$2 algo=$3 bin=$4
case $algo in
ecdsa-p256) key='"algo":"ecdsa","size":256' ;;
rsa-3072) key='"algo":"rsa","size":3072' ;;
esac
ca=$dir/certificates/libvirt nl=$dir/config/nova/nova-libvirt
mkdir -p "$ca" "$nl"
cat >"$dir/config.json" <<JSON
{"signing": {"default": {"expiry": "17520h"}, "profiles": {
 "server": {"expiry": "17520h", "usages": ["digital signature", "key encipherment", "server auth"]},
 "client": {"expiry": "17520h", "usages": ["digital signature", "key encipherment", "client auth"]}}}}
JSON
printf '{"CN":"libvirt-pki CA","key":{%s}}' "$key" | "$bin/cfssl" gencert -loglevel 5 -initca - | "$bin/cfssljson" -bare "$ca/ca"
cp "$ca/ca.pem" "$nl/cacert.pem"
for ((i = 0; i < n; i++)); do
	printf -v h 'compute%05d' "$i"
	d=$nl/$h
	mkdir -p "$d"
	hosts="$h,$h.example.org,10.$((i >> 16 & 255)).$((i >> 8 & 255)).$((i & 255))"
	for p in server client; do
		printf '{"CN":"%s","key":{%s}}' "$h" "$key" |
			"$bin/cfssl" gencert -loglevel 5 -ca "$ca/ca.pem" -ca-key "$ca/ca-key.pem" -config "$dir/config.json" \
				-profile "$p" -hostname "$hosts" - | "$bin/cfssljson" -bare "$d/$p"
	done
done
EOF

# measure DIR CMD...: runs CMD under GNU time; sets secs (wall, from the
# nanosecond clock) and rss_mib (peak RSS of the largest process).
measure() {
	local t0 t1
	t0=$(date +%s%N)
	if ! /usr/bin/time -f '%M' -o "$tmp/time.out" "$@" >"$tmp/cmd.log" 2>&1; then
		echo "compare.sh: failed: $*" >&2
		tail -20 "$tmp/cmd.log" >&2
		exit 1
	fi
	t1=$(date +%s%N)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	rss_mib=$(awk 'END { printf "%.1f", $1 / 1024 }' "$tmp/time.out")
}

host_args() { # N: --host flags for libvirt-pki
	local i
	hargs=()
	for ((i = 0; i < $1; i++)); do
		hargs+=(--host "$(printf 'compute%05d' "$i")=10.$((i >> 16 & 255)).$((i >> 8 & 255)).$((i & 255))")
	done
}

# check_leaf DIR CERT [ALGO]: the certificate chains to the CA and carries
# CA:FALSE, the key usages and the SANs (a cheap guard that every tool made
# the same thing). With ALGO, libvirt-pki's key-usage policy applies: an
# ECDSA leaf has no keyUsage extension (pki's policy table, issue 12).
check_leaf() {
	local ca=$1 cert=$2 text usage="Digital Signature, Key Encipherment"
	[ "${3:-}" = ecdsa-p256 ] && usage="TLS Web Server Authentication"
	openssl verify -CAfile "$ca" "$cert" >/dev/null
	text=$(openssl x509 -noout -text -in "$cert")
	for want in "CA:FALSE" "$usage" "TLS Web Server Authentication" "DNS:compute00000.example.org" "IP Address:10.0.0.0"; do
		grep -q "$want" <<<"$text" || { echo "compare.sh: $cert lacks $want" >&2; exit 1; }
	done
}

# --- run ----------------------------------------------------------------
results=$tmp/results # algo N tool seconds rss_mib
notes=()
: >"$results"
start_all=$(date +%s)
for algo in $algos; do
	for n in $sizes; do
		host_args "$n"

		log "$algo N=$n: libvirt-pki"
		out=$tmp/ours
		measure "$bin/libvirt-pki" certificates --config-dir "$out" --key-algo "$algo" --domain example.org "${hargs[@]}"
		echo "$algo $n ours $secs $rss_mib" >>"$results"
		check_leaf "$out/certificates/libvirt/cacert.pem" "$out/config/nova/nova-libvirt/compute00000/servercert.pem" "$algo"
		rm -rf "$out"

		if [ -n "$shm" ] && [ "$algo" = ecdsa-p256 ]; then
			log "$algo N=$n: libvirt-pki on tmpfs"
			measure "$bin/libvirt-pki" certificates --config-dir "$shm/ours" --key-algo "$algo" --domain example.org "${hargs[@]}"
			echo "$algo $n tmpfs $secs $rss_mib" >>"$results"
			rm -rf "$shm/ours"
		fi

		log "$algo N=$n: floor"
		measure "$bin/floor" -hosts "$n" -algo "$algo"
		echo "$algo $n floor $secs $rss_mib" >>"$results"

		max=$openssl_max
		[ "$algo" = rsa-3072 ] && max=$openssl_rsa_max
		if [ "$n" -le "$max" ]; then
			log "$algo N=$n: openssl loop"
			out=$tmp/openssl
			measure bash "$tmp/openssl-loop.sh" "$out" "$n" "$algo" "$tmp/openssl.cnf"
			echo "$algo $n openssl $secs $rss_mib" >>"$results"
			check_leaf "$out/certificates/libvirt/cacert.pem" "$out/config/nova/nova-libvirt/compute00000/servercert.pem"
			rm -rf "$out"
		else
			flag=--openssl-max
			[ "$algo" = rsa-3072 ] && flag=--openssl-rsa-max
			notes+=("openssl, $algo, $n hosts: skipped ($n > $flag $max) to keep the run short")
		fi

		if [ "$n" -le "$cfssl_max" ]; then
			log "$algo N=$n: cfssl loop"
			out=$tmp/cfssl
			measure bash "$tmp/cfssl-loop.sh" "$out" "$n" "$algo" "$bin"
			echo "$algo $n cfssl $secs $rss_mib" >>"$results"
			check_leaf "$out/certificates/libvirt/ca.pem" "$out/config/nova/nova-libvirt/compute00000/server.pem"
			rm -rf "$out"
		else
			notes+=("cfssl, $algo, $n hosts: skipped ($n > --cfssl-max $cfssl_max) to keep the run short")
		fi
	done
done
total_min=$(awk -v a="$start_all" -v b="$(date +%s)" 'BEGIN { printf "%.1f", (b - a) / 60 }')

# --- table --------------------------------------------------------------
table=$tmp/table.md
awk -v sizes="$sizes" -v algos="$algos" '
function get(a, n, t) { k = a SUBSEP n SUBSEP t; return (k in s) ? s[k] : "" }
function fmt(x) { return x == "" ? "skipped" : sprintf("%.2f", x) }
function ratio(x, y) { return (x == "" || y == "" || y == 0) ? "—" : sprintf("%.1f×", x / y) }
function ratio2(x, y) { return (x == "" || y == "" || y == 0) ? "—" : sprintf("%.2f×", x / y) }
{ s[$1, $2, $3] = $4; r[$1, $2, $3] = $5 }
END {
	print "| key | hosts | libvirt-pki s | peak RSS MiB | libvirt-pki on tmpfs s | floor s | openssl loop s | cfssl loop s | openssl ÷ ours | cfssl ÷ ours | ours ÷ floor | ours on tmpfs ÷ floor |"
	print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	na = split(algos, A, " "); nn = split(sizes, N, " ")
	for (i = 1; i <= na; i++) for (j = 1; j <= nn; j++) {
		a = A[i]; n = N[j]
		o = get(a, n, "ours"); t = get(a, n, "tmpfs"); f = get(a, n, "floor"); os = get(a, n, "openssl"); c = get(a, n, "cfssl")
		printf "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", a, n, fmt(o), r[a, n, "ours"], (t == "" ? "—" : fmt(t)), fmt(f), fmt(os), fmt(c), ratio(os, o), ratio(c, o), ratio2(o, f), ratio2(t, f)
	}
}' "$results" >"$table"

echo
cat "$table"
for note in "${notes[@]+"${notes[@]}"}"; do echo "- $note"; done
echo

# --- chart --------------------------------------------------------------
mkdir -p "$docs"
dat=$tmp/chart.dat
awk -v sizes="$sizes" -v algos="$algos" '
{ s[$1, $2, $3] = $4 }
function g(a, n, t) { k = a SUBSEP n SUBSEP t; return (k in s) ? s[k] : "-" }
END {
	na = split(algos, A, " "); nn = split(sizes, N, " ")
	for (i = 1; i <= na; i++) for (j = 1; j <= nn; j++) {
		a = A[i]; n = N[j]
		printf "\"%s\\n%d hosts\" %s %s %s %s %s\n", a, n, g(a, n, "ours"), g(a, n, "tmpfs"), g(a, n, "floor"), g(a, n, "openssl"), g(a, n, "cfssl")
	}
}' "$results" >"$dat"
# The log axis starts at the power of ten below the smallest bar.
ymin=$(awk '$4 > 0 && (m == "" || $4 < m) { m = $4 } END { e = int(log(m) / log(10)); if (m < 10 ^ e) e--; printf "%g", 10 ^ e }' "$results")
gnuplot <<EOF
set terminal pngcairo size 1200,650 font "DejaVu Sans,11"
set output "$docs/benchmarks.png"
set title "Making a CA plus a server and client certificate per host (seconds, log scale; lower is better)\n$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); missing bar = skipped"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [$ymin:*]
set bmargin 4
set key top left opaque
set ylabel "wall time, s"
set grid ytics mytics
set key top left
set datafile missing "-"
plot "$dat" using 2:xtic(1) title "libvirt-pki certificates" lc rgb "#1b9e77", \
     "" using 3 title "libvirt-pki, output on tmpfs" lc rgb "#66a61e", \
     "" using 4 title "floor (crypto/x509 only, no files)" lc rgb "#7570b3", \
     "" using 5 title "openssl shell loop" lc rgb "#d95f02", \
     "" using 6 title "cfssl CLI loop" lc rgb "#e7298a"
EOF

# --- docs/benchmarks.md -------------------------------------------------
fs_type=$(df -T "$tmp" | awk 'NR == 2 { print $2 }')
{
	echo "# Benchmarks"
	echo
	echo "Made by \`bash bench/compare.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); the whole run took $total_min minutes."
	echo "Every figure comes from that one run on one machine, so compare ratios, not seconds."
	echo
	echo "What is made: a CA, then for every host a server and a client certificate with their"
	echo "keys in the per-host Kolla layout (CA:FALSE, keyUsage digitalSignature+keyEncipherment,"
	echo "EKU serverAuth or clientAuth, SANs \`computeNNNNN\`, \`computeNNNNN.example.org\` and an IPv4"
	echo "address)."
	echo
	echo "- **libvirt-pki**: \`libvirt-pki certificates --config-dir DIR --key-algo ALGO --domain example.org --host NAME=IP ...\`,"
	echo "  all cores, output on the same file system ($fs_type) as the loops; peak RSS from GNU time."
	echo "- **on tmpfs**: the same with its output on /dev/shm (ECDSA only): the cost without the disk."
	echo "- **floor**: \`bench/floor\`: two keys and two certificates per host with crypto/ecdsa or"
	echo "  crypto/rsa and crypto/x509.CreateCertificate, the same extensions, all cores, no CSR, no cfssl,"
	echo "  no files: the cost of the cryptography itself."
	echo "- **openssl loop**: a bash loop, one host after another: \`openssl genpkey\`, \`openssl req -new\`,"
	echo "  \`openssl x509 -req -extfile\` per certificate (three processes per certificate)."
	echo "- **cfssl loop**: a bash loop of \`cfssl gencert -ca -ca-key -config -profile server|client -hostname ... | cfssljson -bare\`"
	echo "  per certificate (cfssl v1.6.5, built with the same Go; it names its files server.pem, server-key.pem)."
	echo
	echo "Ratios: *openssl ÷ ours* and *cfssl ÷ ours* are speed-ups (how many times faster libvirt-pki is);"
	echo "*ours ÷ floor* is libvirt-pki's overhead over the bare cryptography (1.00× = none)."
	echo
	cat "$table"
	echo
	if [ ${#notes[@]} -gt 0 ]; then
		echo "Skipped cells:"
		echo
		for note in "${notes[@]}"; do echo "- $note."; done
		echo
	fi
	echo "![seconds per tool, host count and key algorithm](benchmarks.png)"
	echo
	echo "## Machine"
	echo
	echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores (nproc)"
	echo "- memory: $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "- kernel: $(uname -r); output file system: $fs_type"
	echo "- $(go version)"
	echo "- $(openssl version)"
	echo "- cfssl v1.6.5"
	echo
	echo "## Reproduce"
	echo
	echo "    bash bench/compare.sh            # 100 and 1000 hosts, ECDSA P-256 and RSA-3072"
	echo "    bash bench/compare.sh --large    # also 10000 hosts"
	echo "    bash bench/compare.sh --help     # every option (--openssl-max, --openssl-rsa-max, --sizes, ...)"
	echo
	echo "It needs go, openssl, GNU time and gnuplot (as root it installs the missing Debian packages:"
	echo "\`time\`, \`gnuplot-nox\`, \`openssl\`), builds libvirt-pki, bench/floor and cfssl v1.6.5, and"
	echo "touches no network but the Go module proxy and apt. The Go benchmarks of the pieces:"
	echo
	echo "    go test -run XXX -bench . ./pki ./certs ./verify ./audit"
} >"$docs/benchmarks.md"
log "wrote $docs/benchmarks.md and $docs/benchmarks.png"
