//! Language-ecosystem catalogers. Each reads files selected by its `wanted` predicate.
//!
//! A malformed manifest of one language package (a broken `package.json` in a test-fixture directory of some
//! npm package is common in real images) does not fail the whole image: the file is left out, recorded as a
//! [`Problem`] (path, layer, cataloger, message) in the SBOM, and the cataloger goes on. OS package databases,
//! by contrast, fail loudly (see `dpkg`, `apk`, `rpm`).

pub mod binary;
pub mod dotnet;
pub mod java;
pub mod npm;
pub mod php;
pub mod python;
pub mod ruby;

use portcullis_image::FsView;

use crate::{Error, Package, Problem};

/// Largest executable or archive whose content is kept for the binary and Java catalogers.
pub const MAX_BINARY_SIZE: u64 = 512 << 20;

/// True for the files the language catalogers read.
pub fn wanted(path: &str, size: u64, mode: u32) -> bool {
    python::wanted(path)
        || npm::wanted(path)
        || ruby::wanted(path)
        || php::wanted(path)
        || dotnet::wanted(path)
        || (size <= MAX_BINARY_SIZE && (java::wanted(path) || binary::wanted(path, size, mode)))
}

/// Runs every language cataloger; manifests that cannot be used are added to `problems`.
pub fn catalog(fs: &FsView, problems: &mut Vec<Problem>) -> Result<Vec<Package>, Error> {
    let mut out = Vec::new();
    out.extend(python::catalog(fs, problems)?);
    out.extend(npm::catalog(fs, problems)?);
    out.extend(java::catalog(fs, problems)?);
    out.extend(binary::catalog(fs, problems)?);
    out.extend(ruby::catalog(fs, problems)?);
    out.extend(php::catalog(fs, problems)?);
    out.extend(dotnet::catalog(fs, problems)?);
    Ok(out)
}

/// Records that `cataloger` could not use the file at `path` (shown as `shown` when it lies inside an archive):
/// the file is skipped, the image goes on, the SBOM lists the problem.
pub(crate) fn problem(
    problems: &mut Vec<Problem>,
    fs: &FsView,
    cataloger: &str,
    path: &str,
    shown: Option<&str>,
    err: impl std::fmt::Display,
) {
    let message = err.to_string();
    // Errors of this crate start with the path; the problem names it already.
    let message = message
        .strip_prefix(path)
        .and_then(|m| m.strip_prefix(": "))
        .unwrap_or(&message);
    let p = Problem::new(fs, cataloger, path, shown, message);
    // Debug only: the problem is in the SBOM, and the CLI prints it as a warning.
    tracing::debug!(path = %p.path, layer = ?p.layer, cataloger, error = %p.message, "language package manifest skipped");
    problems.push(p);
}

/// Reads the text file at `path` and parses it with `parse`; an unreadable file or a parse error (`what`
/// names the format, e.g. `composer installed.json`) becomes a [`Problem`] and `None`.
pub(crate) fn read_parsed<T, E: std::fmt::Display>(
    fs: &FsView,
    problems: &mut Vec<Problem>,
    cataloger: &str,
    path: &str,
    what: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<T> {
    match crate::fsutil::read_text(fs, path) {
        Ok(text) => match parse(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                problem(
                    problems,
                    fs,
                    cataloger,
                    path,
                    None,
                    format!("malformed {what}: {e}"),
                );
                None
            }
        },
        Err(e) => {
            problem(problems, fs, cataloger, path, None, e);
            None
        }
    }
}

/// Licence names from a JSON value that is a string, `{ "type": … }`, or an array of either.
pub(crate) fn json_licenses(v: Option<&serde_json::Value>) -> Vec<String> {
    use serde_json::Value;
    match v {
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(Value::Object(o)) => o
            .get("type")
            .and_then(Value::as_str)
            .map(|s| vec![s.to_string()])
            .unwrap_or_default(),
        Some(Value::Array(a)) => a.iter().flat_map(|x| json_licenses(Some(x))).collect(),
        _ => Vec::new(),
    }
}

/// Parent directory of an absolute path (`/a/b/c` → `/a/b`).
pub(crate) fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}
