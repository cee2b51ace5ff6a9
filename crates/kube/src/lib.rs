//! Kubernetes-native parts: pull secrets, CRDs, reports, events, leases.

pub mod crd;
pub mod pullsecrets;
pub mod testing;
