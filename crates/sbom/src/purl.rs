//! Package URL construction (via the `packageurl` crate, which does the percent-encoding per the spec).

use packageurl::PackageUrl;

/// Builds a purl; `qualifiers` with empty values are left out. Falls back to a minimal hand-made purl only if the
/// crate refuses the input (it refuses empty names), so a package is never lost for want of a purl.
pub(crate) fn purl(
    ty: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let build = || -> Result<String, packageurl::Error> {
        let mut p = PackageUrl::new(ty, name)?;
        if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
            p.with_namespace(ns)?;
        }
        if !version.is_empty() {
            p.with_version(version)?;
        }
        for (k, v) in qualifiers {
            if !v.is_empty() {
                p.add_qualifier(*k, *v)?;
            }
        }
        Ok(p.to_string())
    };
    build().unwrap_or_else(|_| format!("pkg:{ty}/{name}@{version}"))
}
