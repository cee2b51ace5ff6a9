#!/usr/bin/env bash
# Setup for the sbom crate's tests (idempotent):
#  - debootstrap + dpkg: the Debian rootfs of the Done-when test and its reference `dpkg-query` list
#  - rpm: reference `rpm -qa` over the rpmdb fixtures
#  - python3-pip, npm, maven, Go: real pip/npm/Maven Central content and a `go build` binary for the language
#    catalogers (compared with pip list / npm ls / go version -m)
set -euo pipefail
need=()
for p in debootstrap dpkg rpm python3 python3-pip npm maven; do
  dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
command -v go >/dev/null 2>&1 || need+=(golang-go)
if [ "${#need[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${need[@]}"
fi
