#!/usr/bin/env bash
# Setup for the sbom crate's tests: debootstrap (Debian rootfs for the dpkg Done-when test), dpkg-query (reference
# package list), python3-pip/venv (real pip-installed packages). Idempotent.
set -euo pipefail
need=()
for p in debootstrap dpkg python3 python3-pip python3-venv; do
  dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${need[@]}"
fi
