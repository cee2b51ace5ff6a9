#!/usr/bin/env bash
# Renders the Helm chart into plain manifests (deploy/manifests/portcullis.yaml) with helm built by
# scripts/cluster-build. The plain manifests use cert-manager for the webhook certificate (so no private key
# is committed); install cert-manager first, or use the chart for chart-generated certificates.
# The test `rendered_manifests_are_current` (crates/kube/tests/chart.rs) fails when this output is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(scripts/cluster-build | tail -1)
"$bin/helm" template portcullis deploy/helm/portcullis --namespace portcullis --include-crds \
  -f deploy/manifests/values.yaml > deploy/manifests/portcullis.yaml
echo "wrote deploy/manifests/portcullis.yaml"
