#!/usr/bin/env bash
# Setup for the admission and server crates. Idempotent.
#
# The tests need nothing beyond the Rust toolchain: TLS is rustls, certificates are generated in-process (rcgen),
# the webhook is served on 127.0.0.1 random ports, and the captured reviews are read from ../shared.
#
# bench/webhook needs the oha load generator. Building it takes minutes, so it is only installed when asked
# for: PORTCULLIS_BENCH=1 scripts/setup.d/50-admission.sh
set -euo pipefail
if [ "${PORTCULLIS_BENCH:-}" = 1 ] && ! command -v oha >/dev/null 2>&1; then
  cargo install oha --locked --version 1.16.0
fi
