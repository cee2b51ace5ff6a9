#!/usr/bin/env bash
# Setup for the signature tests (crates/verify, crates/portcullis/tests/verify.rs): builds the real `cosign`
# CLI from its Go module (github.com/sigstore/cosign/v2/cmd/cosign, through the Go module proxy, with the Go
# toolchain at /usr/local/go/bin) and caches it under $HOME/.cache/portcullis/cosign-<version>/cosign.
# Idempotent: a warm cache makes this a no-op. The key tests (crates/verify/tests/keys.rs) use the `openssl` CLI
# (Debian package openssl); cosign itself is a static build (CGO disabled).
# The build is CPU heavy; it runs under `nice` so it does not starve other work.
set -euo pipefail
export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "40-cosign: Go toolchain not found (install Go >= 1.24 to /usr/local/go)" >&2; exit 1; }
command -v openssl >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends openssl
version=v2.6.5
dir="$HOME/.cache/portcullis/cosign-$version"
if [ -x "$dir/cosign" ]; then exit 0; fi
mkdir -p "$dir"
echo "40-cosign: building cosign $version ..." >&2
t0=$SECONDS
gobin=$(mktemp -d)
CGO_ENABLED=0 GOBIN="$gobin" nice -n 10 go install -trimpath -ldflags="-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$version" \
  "github.com/sigstore/cosign/v2/cmd/cosign@$version"
mv "$gobin/cosign" "$dir/cosign.tmp.$$" && mv "$dir/cosign.tmp.$$" "$dir/cosign"
rm -rf "$gobin"
echo "40-cosign: cosign built in $((SECONDS - t0))s" >&2
