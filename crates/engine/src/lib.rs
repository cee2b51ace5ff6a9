//! The analysis pipeline, analysis queue workers and REST API.
//!
//! [`Engine`] drives the stages (resolve → pull + analyse → match → evaluate) from the store's analysis queue,
//! [`api::router`] is the REST API (`/v1/…`, `/openapi.json`) the server mounts, and [`client::Client`] is the
//! blocking HTTP client the CLI uses.

pub mod api;
pub mod bundles;
pub mod client;
mod engine;
pub mod service;
pub mod stages;
pub mod verdicts;

pub use engine::{
    CheckResult, Engine, EngineConfig, EngineError, FeedSyncOutcome, RematchStats, Result, Stages,
    Status, VulnKind, VulnReport, blocking, is_digest, json_digest,
};
