//! Gate `packages`: required and deny-listed OS packages. Its deny-list check ([`Deny`]) also serves the
//! deprecated `npms` and `ruby_gems` gates.

use portcullis_sbom::{Package, PackageType};

use super::common::{is_os, os_scheme};
use super::{Ctx, Gate, Outcome, Params};
use crate::catalog::{GateSpec, Lifecycle, ParamType, TriggerSpec, gate_def, p, t, t_missing};

/// The `packages` gate.
pub(crate) struct Packages;

/// A package deny-list rule: `packages.blacklist`, `npms.blacklisted_name_version`, `ruby_gems.blacklist`.
#[derive(Debug)]
pub(crate) struct Deny {
    /// The ecosystem checked; `None`: OS packages.
    only: Option<PackageType>,
    name: String,
    version: Option<String>,
}

impl Deny {
    /// Compiles the `name` and optional `version` parameters, for packages of type `only` (`None`: OS).
    pub(crate) fn compile(only: Option<PackageType>, params: &Params) -> Deny {
        Deny {
            only,
            name: params.get("name").cloned().unwrap_or_default(),
            version: params.get("version").cloned(),
        }
    }

    /// Fires for every installed package of the name (and version, when given).
    pub(crate) fn run<'c>(&self, ctx: &'c Ctx<'_>, out: &mut Outcome<'c>) {
        let Deny {
            only,
            name,
            version,
        } = self;
        for p in ctx.input.sbom.packages.iter().filter(|p| match only {
            Some(t) => p.package_type == *t,
            None => is_os(p.package_type),
        }) {
            if pkg_matches(p, name, version.as_ref()) {
                out.fire(format!("{}+{}", p.name, p.version), || {
                    format!("Package is blacklisted: {} {}", p.name, p.version)
                });
            }
        }
    }
}

/// A compiled `packages` rule.
#[derive(Debug)]
pub(crate) enum Check {
    /// `packages.blacklist`.
    Deny(Deny),
    /// `packages.required_package`.
    Required {
        name: String,
        version: Option<String>,
        minimum: bool,
    },
}

impl Gate for Packages {
    type Check = Check;

    const SPEC: GateSpec = gate_def(
        "packages",
        "Distro package checks.",
        Lifecycle::Active,
        &[
            t(
                "required_package",
                "Triggers if the specified package and optionally a specific version is not found in the image.",
                &[
                    p(
                        "name",
                        ParamType::Str,
                        true,
                        "Name of package that must be found installed in image.",
                        "libssl",
                    ),
                    p(
                        "version",
                        ParamType::Str,
                        false,
                        "Optional version of package for exact version match.",
                        "1.10.3rc3",
                    ),
                    p(
                        "version_match_type",
                        ParamType::Enum(&["exact", "minimum"]),
                        false,
                        "The type of comparison to use for version if a version is provided.",
                        "exact",
                    ),
                ],
            ),
            t_missing(
                "verify",
                "Check package integrity against package db in the image. Triggers for changes or removal or content in all or the selected \"dirs\" parameter if provided.",
                &[
                    p(
                        "only_packages",
                        ParamType::List,
                        false,
                        "List of package names to limit verification.",
                        "libssl,openssl",
                    ),
                    p(
                        "only_directories",
                        ParamType::List,
                        false,
                        "List of directories to limit checks so as to avoid checks on all dir.",
                        "/usr,/var/lib",
                    ),
                    p(
                        "check",
                        ParamType::Enum(&["changed", "missing"]),
                        false,
                        "Check to perform instead of all.",
                        "changed",
                    ),
                ],
                "the analyser does not record file digests to verify packages against",
            ),
            t(
                "blacklist",
                "Triggers if the evaluated image has a package installed that matches the named package optionally with a specific version as well.",
                &[
                    p(
                        "name",
                        ParamType::Str,
                        true,
                        "Package name to blacklist.",
                        "openssh-server",
                    ),
                    p(
                        "version",
                        ParamType::Str,
                        false,
                        "Specific version of package to blacklist.",
                        "1.0.1",
                    ),
                ],
            ),
        ],
    );

    fn compile(trigger: &'static TriggerSpec, params: &Params) -> Result<Check, String> {
        match trigger.name {
            "blacklist" => Ok(Check::Deny(Deny::compile(None, params))),
            "required_package" => Ok(Check::Required {
                name: params.get("name").cloned().unwrap_or_default(),
                version: params.get("version").cloned(),
                minimum: params
                    .get("version_match_type")
                    .is_some_and(|v| v.eq_ignore_ascii_case("minimum")),
            }),
            other => Err(format!(
                "packages.{other} has no implementation in this build"
            )),
        }
    }

    fn run<'c>(check: &Check, ctx: &'c Ctx<'_>, out: &mut Outcome<'c>) {
        match check {
            Check::Deny(deny) => deny.run(ctx, out),
            Check::Required {
                name,
                version,
                minimum,
            } => required(name, version.as_deref(), *minimum, ctx, out),
        }
    }
}

/// `packages.required_package`: fires when no OS package `name` (of version `version`, exactly or at
/// least) is installed.
fn required<'c>(
    name: &str,
    version: Option<&str>,
    minimum: bool,
    ctx: &'c Ctx<'_>,
    out: &mut Outcome<'c>,
) {
    let found: Vec<&Package> = ctx
        .input
        .sbom
        .packages
        .iter()
        .filter(|p| is_os(p.package_type) && p.name == name)
        .collect();
    let mut unparsable = None;
    let ok = match version {
        None => !found.is_empty(),
        Some(v) if minimum => found.iter().any(|p| {
            match portcullis_vuln::compare(os_scheme(p.package_type), &p.version, v) {
                Ok(o) => o != std::cmp::Ordering::Less,
                Err(e) => {
                    unparsable = Some(format!(
                        "cannot compare {} version `{}` with `{v}`: {e}",
                        p.name, p.version
                    ));
                    false
                }
            }
        }),
        Some(v) => found.iter().any(|p| p.version == v),
    };
    if let Some(reason) = unparsable
        && !ok
    {
        return out.missing(reason);
    }
    if !ok {
        let msg = match (version, found.first()) {
            (None, _) | (Some(_), None) => format!("Required package {name} not found"),
            (Some(v), Some(p)) => format!(
                "Required package {name} version {v} ({}) not found; found version {}",
                if minimum { "minimum" } else { "exact" },
                p.version
            ),
        };
        out.fire(name.to_string(), || msg);
    }
}

fn pkg_matches(p: &Package, name: &str, version: Option<&String>) -> bool {
    p.name == name && version.is_none_or(|v| &p.version == v)
}
