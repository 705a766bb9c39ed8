#!/usr/bin/env bash
# Build the release into dist/ (gitignored):
#   dist/linux_{amd64,arm64}/libvirt-pki   static binaries (CGO_ENABLED=0,
#                                          -trimpath), version/commit/date stamped
#   dist/docs/man1/*.1.gz                  man pages from the cobra command tree
#   dist/docs/completions/                 bash, zsh and fish completions
#   dist/libvirt-pki_*.deb, *.rpm          packages (nfpm) with all of the above,
#                                          the systemd units and the alert rules
#
# Usage: bash packaging/build.sh [VERSION]
#   VERSION defaults to the git tag on HEAD, else 0.0.0-git<date>.<commit>.
#   ARCHES="amd64 arm64" and PACKAGERS="deb rpm" choose what is built.
#   nfpm is used from PATH, else built once from the Go module proxy into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/libvirt-pki/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

NFPM_VERSION=v2.45.2
ARCHES=${ARCHES:-amd64 arm64}
PACKAGERS=${PACKAGERS:-deb rpm}
DIST=$PWD/dist

commit=$(git rev-parse HEAD)
# The commit's date, not the build's: the same commit builds the same bytes.
epoch=$(git log -1 --format=%ct HEAD)
date=$(TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd HEAD)
version=${1:-$(git describe --tags --exact-match HEAD 2>/dev/null || true)}
if [ -z "$version" ]; then
	version=0.0.0-git$(TZ=UTC git log -1 --date=format-local:%Y%m%d --format=%cd HEAD).${commit:0:12}
fi
export SOURCE_DATE_EPOCH=$epoch

ldflags="-s -w -X main.version=$version -X main.commit=$commit -X main.date=$date"
rm -rf "$DIST"
mkdir -p "$DIST"

echo "== binaries: libvirt-pki $version ($commit, $date)"
for arch in $ARCHES; do
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags "$ldflags" \
		-o "$DIST/linux_$arch/libvirt-pki" ./cmd/libvirt-pki
done

echo "== man pages and completions"
# Made by a binary for this machine, from the same sources and stamps.
host_bin=$DIST/host/libvirt-pki
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$host_bin" ./cmd/libvirt-pki
"$host_bin" gendocs "$DIST/docs"
rm -rf "$DIST/host"
gzip -9n "$DIST"/docs/man1/*.1

nfpm=$(command -v nfpm || true)
if [ -z "$nfpm" ]; then
	bin=${XDG_CACHE_HOME:-$HOME/.cache}/libvirt-pki/nfpm-$NFPM_VERSION
	if [ ! -x "$bin/nfpm" ]; then
		echo "== nfpm $NFPM_VERSION (go install, once)"
		GOBIN=$bin GOFLAGS= go install "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION"
	fi
	nfpm=$bin/nfpm
fi

echo "== packages"
for arch in $ARCHES; do
	for packager in $PACKAGERS; do
		# nfpm expands no variables in file paths: fill them in here.
		sed -e "s|\${ARCH}|$arch|g" -e "s|\${VERSION}|$version|g" -e "s|\${DIST}|$DIST|g" \
			packaging/nfpm.yaml >"$DIST/nfpm-$arch.yaml"
		"$nfpm" package --config "$DIST/nfpm-$arch.yaml" --packager "$packager" --target "$DIST/"
	done
done
ls -l "$DIST"
