//! One module per subcommand.

pub mod admit;
pub mod analyse_worker;
pub mod certs;
pub mod db;
pub mod evaluate;
pub mod feeds;
pub mod image;
pub mod policy;
pub mod sbom;
pub mod scan;
pub mod serve;
pub mod system;
pub mod triage;
pub mod verify;
pub mod version;
pub mod webhook_config;
