//! Test helpers for the importers: run one file through the registry.

use super::{Batch, Collector, File, parse};

/// Imports one file named `name` (its format recognised as in a real import).
pub(super) fn import_one(name: &str, bytes: &[u8]) -> Batch {
    let mut c = Collector::new("test");
    c.file(name, bytes);
    c.finish()
}

/// The name of the importer that claims this file, `None` when none does (or it does not parse).
pub(super) fn owner(name: &str, bytes: &[u8]) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let base = lower.rsplit(['/', '!']).next().unwrap_or(&lower);
    let parsed = parse(base, bytes).ok()?;
    let file = File {
        name,
        base,
        bytes,
        doc: parsed.as_ref().filter(|v| v.is_object()),
    };
    super::owner(&file).map(|i| i.name())
}
