#!/usr/bin/env bash
# Fuzz targets (fuzz/, replayed over their seeds by `fuzz/run --replay` in .ci/run) need a nightly toolchain and
# cargo-fuzz. cargo-fuzz is built once from crates.io into a cache keyed by its version; fuzz/run puts it on PATH.
set -euo pipefail
CARGO_FUZZ_VERSION=0.13.2
ROOT="$HOME/.cache/portcullis/cargo-fuzz-$CARGO_FUZZ_VERSION"
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
if [ ! -x "$ROOT/bin/cargo-fuzz" ]; then
  cargo install --locked --quiet "cargo-fuzz@$CARGO_FUZZ_VERSION" --root "$ROOT"
fi
