#!/usr/bin/env bash
# Setup for the Kubernetes end-to-end tests (crates/kube): builds etcd, kube-apiserver,
# kube-controller-manager, kubectl and helm from the Go modules pinned in tests/cluster (through the Go
# module proxy, with the Go toolchain at /usr/local/go/bin) and caches them under
# $HOME/.cache/portcullis/k8s-<version>-helm-<version>/. Idempotent: a warm cache makes this a no-op.
# No Debian packages are needed (the binaries are static, CGO disabled).
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/cluster-build >/dev/null
