//! One module per subcommand.

pub mod sbom;
pub mod scan;
pub mod db;
pub mod version;
pub mod policy;
pub mod evaluate;
pub mod admit;
pub mod serve;
pub mod certs;
pub mod webhook_config;
pub mod image;
pub mod system;
pub mod feeds;
