#!/usr/bin/env bash
# Image crate tests: a real registry (Debian's docker-registry), skopeo to push images and write docker-save
# archives, htpasswd (apache2-utils) for the registry's bcrypt basic auth. GNU tar and mkfifo come with Debian.
set -euo pipefail
need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
command -v htpasswd >/dev/null || need+=(apache2-utils)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
