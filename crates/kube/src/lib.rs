//! Kubernetes-native parts of Portcullis: registry credentials from pull secrets ([`pullsecrets`]),
//! the ContainerAdmissionPolicy and ImageReport custom resources ([`crd`], [`cap`]), per-workload reports and
//! denial Events ([`report`]), verified controller owners for `skipOwned` ([`owners`]), the periodic audit of
//! running Pods and a namespace cache ([`audit`]), Lease-based leader election ([`leader`]) and the platforms the Nodes run ([`platforms`]); [`integration`]
//! starts them all for `portcullis serve` from the [`settings`] file. The test control plane lives in the
//! dev-only `portcullis-testkit` crate.

pub mod audit;
pub mod budget;
pub mod cap;
pub mod crd;
pub mod integration;
pub mod key_secrets;
pub mod leader;
pub mod owners;
pub mod platforms;
pub mod pullsecrets;
pub mod report;
pub mod settings;
