//! What the Debian security tracker's statements mean, shared by its three importers: per-CVE/DSA records as in
//! `vuln-list-debian` (`debian_record`), the tracker JSON dump (`debian_tracker_json`) and the `DSA`/`DLA` text
//! lists (`debian_dsa_list`).
//!
//! Semantics: a `[release]` line wins (priority 3), then a DSA/DLA fix for that release (2), then the unstable
//! line inherited by releases 10–13 that have no line of their own (1): an inherited `fixed V` covers versions
//! below V as *open* (not fixed, no fixed-in version, as the tracker says for that release) — V is unstable's
//! fix — and leaves V and above unaffected. `fixed V` → fixed in V; `<unfixed>` →
//! not fixed; `<no-dsa>`, `<ignored>`, `<postponed>`, `<end-of-life>` → won't fix; `<not-affected>` / fixed `0`
//! → not affected (suppresses the package); `unimportant` → negligible.

use super::{Collector, check_version};
use crate::model::{Affected, Range};
use crate::{FixState, Scheme, Severity};

/// The kind of an unstable `- pkg V` line as inherited by a release that has no line of its own: that release is
/// affected below V, but V is unstable's fix, not one the release can install. The tracker calls such a release
/// `open` (no `fixed_version`) while its version is below V, `resolved` once it is not — so a package below V is
/// not fixed, with no fixed-in version, and one at or above V is not affected.
pub(super) const FIXED_IN_UNSTABLE: &str = "fixed-in-unstable";

/// One Debian statement: (vulnerability, namespace, package) with the tracker's kind of status.
pub(super) struct Stmt<'a> {
    pub(super) id: &'a str,
    pub(super) ns: &'a str,
    pub(super) pkg: &'a str,
    pub(super) kind: &'a str,
    pub(super) version: Option<&'a str>,
    pub(super) severity: Option<Severity>,
    pub(super) priority: u8,
}

/// Turns one statement into an [`Affected`] row (or a bad record); kinds meaning "not in that release" are dropped.
pub(super) fn debian_row(c: &mut Collector, name: &str, st: Stmt<'_>) {
    let Stmt {
        id,
        ns,
        pkg,
        kind,
        version,
        severity,
        priority,
    } = st;
    let (ranges, state, fixed_in) = match kind {
        "fixed" | FIXED_IN_UNSTABLE => {
            let Some(ver) = version.filter(|v| !v.is_empty()) else {
                return c.bad(
                    name,
                    Some(id),
                    format!("{pkg} ({ns}): fixed without a version"),
                );
            };
            if ver == "0" {
                (Vec::new(), FixState::NotAffected, None)
            } else {
                if let Err(e) = check_version(Scheme::Dpkg, ver) {
                    return c.bad(name, Some(id), format!("{pkg} ({ns}): {e}"));
                }
                let below = vec![Range::Interval {
                    introduced: None,
                    fixed: Some(ver.to_string()),
                    last_affected: None,
                }];
                if kind == FIXED_IN_UNSTABLE {
                    (below, FixState::NotFixed, None)
                } else {
                    (below, FixState::Fixed, Some(ver.to_string()))
                }
            }
        }
        "unfixed" => (vec![Range::All], FixState::NotFixed, None),
        "no-dsa" | "ignored" | "postponed" | "end-of-life" => {
            (vec![Range::All], FixState::WontFix, None)
        }
        "not-affected" => (Vec::new(), FixState::NotAffected, None),
        "undetermined" => (vec![Range::All], FixState::Unknown, None),
        // removed, itp, … : the package is not in that release
        _ => return,
    };
    c.batch.affected.push(Affected {
        vuln_id: id.to_string(),
        namespace: ns.to_string(),
        package: pkg.to_string(),
        ranges,
        fix_state: state,
        fixed_in,
        severity,
        priority,
    });
}
