//! Gate `distro`: denies images by distribution and release (os-release).

use std::cmp::Ordering;

use super::common::Cmp;
use super::{Ctx, Gate, Outcome, Params};
use crate::catalog::{COMPARISONS, GateSpec, Lifecycle, ParamType, TriggerSpec, gate_def, p, t};

/// The `distro` gate.
pub(crate) struct Distro;

/// A compiled `distro` rule.
#[derive(Debug)]
pub(crate) enum Check {
    /// `distro.deny`.
    Deny {
        distro: String,
        version: String,
        cmp: Cmp,
    },
}

impl Gate for Distro {
    type Check = Check;

    const SPEC: GateSpec = gate_def(
        "distro",
        "Distribution checks against the distro (os-release) of the image.",
        Lifecycle::Active,
        &[t(
            "deny",
            "Triggers if the image distro and version match the criteria.",
            &[
                p(
                    "distro",
                    ParamType::Str,
                    true,
                    "Name of the distribution to match.",
                    "centos",
                ),
                p(
                    "version",
                    ParamType::Str,
                    true,
                    "Version of distribution to compare against.",
                    "8",
                ),
                p(
                    "check",
                    ParamType::Enum(COMPARISONS),
                    true,
                    "The comparison to use in the evaluation.",
                    "<",
                ),
            ],
        )],
    );

    fn compile(trigger: &'static TriggerSpec, params: &Params) -> Result<Check, String> {
        let s = |k: &str| params.get(k).cloned().unwrap_or_default();
        match trigger.name {
            "deny" => Ok(Check::Deny {
                distro: s("distro"),
                version: s("version"),
                cmp: Cmp::with_default(params.get("check"), Cmp::Eq),
            }),
            other => Err(format!(
                "distro.{other} has no implementation in this build"
            )),
        }
    }

    fn run<'c>(check: &Check, ctx: &'c Ctx<'_>, out: &mut Outcome<'c>) {
        let Check::Deny {
            distro,
            version,
            cmp,
        } = check;
        match &ctx.input.sbom.distro {
            None => out.missing("no distro was detected in the image"),
            Some(d) => {
                let v = d.version_id.clone().unwrap_or_default();
                if d.id.eq_ignore_ascii_case(distro)
                    && cmp.test(release_cmp(&v, version), Ordering::Equal)
                {
                    out.fire(format!("{}:{}", d.id, v), || {
                        format!(
                            "Distro {} {v} is denied by policy ({distro} {cmp:?} {version})",
                            d.id
                        )
                    });
                }
            }
        }
    }
}

/// Compares the image's release with the policy's at the policy's precision: a policy naming `12` judges
/// Debian 12.12 (the point release the SBOM reports from `/etc/debian_version`) as release 12, so Anchore
/// bundles written against `VERSION_ID` keep matching; a policy naming `12.5` compares the full point release.
fn release_cmp(image: &str, policy: &str) -> std::cmp::Ordering {
    let precision = policy.split('.').count();
    let image_release = match image.match_indices('.').nth(precision.saturating_sub(1)) {
        Some((cut, _)) if !policy.is_empty() => &image[..cut],
        _ => image,
    };
    version_cmp(image_release, policy)
}

/// Compares two distro release versions (`VERSION_ID`: `12`, `3.19.1`, `22.04`) segment by segment, digit
/// runs numerically, others lexically, for `distro.deny`. Hand-written: release ids follow no package
/// version scheme, so `portcullis_vuln::compare` (which package versions use) does not apply.
fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn segs(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let digit = bytes[i].is_ascii_digit();
            let start = i;
            while i < bytes.len()
                && bytes[i].is_ascii_digit() == digit
                && bytes[i].is_ascii_alphanumeric()
            {
                i += 1;
            }
            if i == start {
                i += 1;
                continue;
            }
            out.push((digit, &s[start..i]));
        }
        out
    }
    let (sa, sb) = (segs(a), segs(b));
    for (x, y) in sa.iter().zip(sb.iter()) {
        let o = match (x.0, y.0) {
            (true, true) => {
                let (nx, ny) = (x.1.trim_start_matches('0'), y.1.trim_start_matches('0'));
                nx.len().cmp(&ny.len()).then_with(|| nx.cmp(ny))
            }
            _ => x.1.cmp(y.1),
        };
        if o != std::cmp::Ordering::Equal {
            return o;
        }
    }
    sa.len().cmp(&sb.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ordering() {
        use std::cmp::Ordering::*;
        assert_eq!(version_cmp("1.10", "1.9"), Greater);
        assert_eq!(version_cmp("3.0.13-1", "3.0.13-1"), Equal);
        assert_eq!(version_cmp("12", "11"), Greater);
        assert_eq!(version_cmp("1.0", "1.0.1"), Less);
    }

    #[test]
    fn point_releases_are_judged_at_the_policys_precision() {
        use std::cmp::Ordering::*;
        assert_eq!(release_cmp("12.12", "12"), Equal);
        assert_eq!(release_cmp("12.12", "11"), Greater);
        assert_eq!(release_cmp("12.12", "13"), Less);
        assert_eq!(release_cmp("12.12", "12.5"), Greater);
        assert_eq!(release_cmp("12.4", "12.5"), Less);
        assert_eq!(release_cmp("12", "12.5"), Less);
        assert_eq!(release_cmp("3.19.1", "3.19"), Equal);
        assert_eq!(release_cmp("12.12", ""), Greater);
    }
}
