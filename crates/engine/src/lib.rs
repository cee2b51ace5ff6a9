//! The analysis pipeline, analysis queue workers and REST API.
//!
//! [`Engine`] drives the stages (resolve → pull + analyse → match → evaluate) from the store's analysis queue,
//! [`api::router`] is the REST API (`/v1/…`, `/openapi.json`) the server mounts, with its request and response
//! types in [`api`]; the CLI's HTTP client is the `portcullis-client` crate.

pub mod access;
pub mod api;
pub mod bundles;
mod engine;
mod fair;
pub mod isolate;
pub mod key_secrets;
pub mod metrics;
pub mod resolve;
pub mod service;
pub mod signatures;
pub mod stages;
pub mod verdicts;
pub mod vuln_sync;

pub use api::{CheckResult, FeedSyncOutcome, RematchStats, Status, VulnKind, VulnReport};
pub use engine::triage::{
    MAX_TRIAGE_DOCUMENT_BYTES, MAX_TRIAGE_DOCUMENTS, STORED_FINDINGS_FEED, spawn_triage_watch,
};
pub use engine::{
    Engine, EngineConfig, EngineError, INDEX_ANNOTATION, PLATFORM_ANNOTATION, PLATFORMS_ANNOTATION,
    Result, Stages, blocking, index_platforms, is_digest, worst_of_platforms,
};
