#!/usr/bin/env bash
# Vulnerability-stage benchmarks (release build): matching 1,000 packages against all of ../shared/vulndata
# (target ≤ 10 ms) and importing all of it (target ≤ 30 s). Criterion prints the estimates.
set -euo pipefail
cd "$(dirname "$0")/.."
export PORTCULLIS_SHARED="${PORTCULLIS_SHARED:-$(cd .. && pwd)/shared}"
exec cargo bench -p portcullis-vuln --bench vuln -- "$@"
