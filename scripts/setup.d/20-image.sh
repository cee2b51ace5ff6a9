#!/usr/bin/env bash
# Image crate tests: a real registry (Debian's docker-registry), skopeo to push and convert images,
# htpasswd (apache2-utils) for the registry's bcrypt basic auth, openssl for inspecting certificates.
set -euo pipefail
need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
command -v htpasswd >/dev/null || need+=(apache2-utils)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
