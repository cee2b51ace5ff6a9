//! Kubernetes-native parts: pull secrets, CRDs, reports, events, leases.
