//! The single source of truth for every gate, trigger and parameter.
//!
//! The validator checks rules against these tables, the evaluator dispatches on them, and
//! `portcullis policy describe` prints them. Names follow anchore-engine's policy gates (version `1_0`), plus
//! two triggers of our own (`vulnerabilities.kev` and `vulnerabilities.epss`).

use serde::Serialize;

/// The comparison operators Anchore accepts for severities and scores.
pub const COMPARISONS: &[&str] = &["=", "!=", "<", ">", "<=", ">="];
/// Severity names, least severe first (Anchore's `SEVERITY_ORDERING`).
pub const SEVERITIES: &[&str] = &["unknown", "negligible", "low", "medium", "high", "critical"];
/// Dockerfile instructions the `dockerfile.instruction` trigger knows.
pub const INSTRUCTIONS: &[&str] = &[
    "ADD",
    "ARG",
    "COPY",
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "USER",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "VOLUME",
    "WORKDIR",
];
/// Checks of `dockerfile.instruction`.
pub const INSTRUCTION_CHECKS: &[&str] = &[
    "=",
    "!=",
    "exists",
    "not_exists",
    "like",
    "not_like",
    "in",
    "not_in",
];
/// Checks of `metadata.attribute`.
pub const ATTRIBUTE_CHECKS: &[&str] = &[
    "=",
    "!=",
    ">",
    "<",
    ">=",
    "<=",
    "exists",
    "not_exists",
    "like",
    "not_like",
    "in",
    "not_in",
];
/// Attributes of `metadata.attribute`.
pub const ATTRIBUTES: &[&str] = &[
    "size",
    "architecture",
    "os_type",
    "distro",
    "distro_version",
    "like_distro",
    "layer_count",
];

/// The type of a trigger parameter's value (all values are strings in a bundle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "values")]
pub enum ParamType {
    /// Any string.
    Str,
    /// A regular expression (checked when the rule is compiled).
    Regex,
    /// An integer.
    Int,
    /// A decimal number.
    Float,
    /// `true` or `false`.
    Bool,
    /// One of the listed values (case-insensitive).
    Enum(&'static [&'static str]),
    /// A comma-separated list of strings.
    List,
    /// A comma-separated list of the listed values.
    EnumList(&'static [&'static str]),
}

impl ParamType {
    /// Checks a value against the type; `Err` says what is wrong.
    pub fn check(&self, value: &str) -> Result<(), String> {
        let v = value.trim();
        match self {
            ParamType::Str | ParamType::List | ParamType::Regex => Ok(()),
            ParamType::Int => v
                .parse::<i64>()
                .map(|_| ())
                .map_err(|_| format!("`{value}` is not an integer")),
            ParamType::Float => v
                .parse::<f64>()
                .map(|_| ())
                .map_err(|_| format!("`{value}` is not a number")),
            ParamType::Bool => match v.to_ascii_lowercase().as_str() {
                "true" | "false" => Ok(()),
                _ => Err(format!("`{value}` is not `true` or `false`")),
            },
            ParamType::Enum(allowed) => {
                if allowed.iter().any(|a| a.eq_ignore_ascii_case(v)) {
                    Ok(())
                } else {
                    Err(format!("`{value}` is not one of {}", allowed.join(", ")))
                }
            }
            ParamType::EnumList(allowed) => {
                for item in v.split(',').map(str::trim) {
                    if !allowed.iter().any(|a| a.eq_ignore_ascii_case(item)) {
                        return Err(format!(
                            "list item `{item}` is not one of {}",
                            allowed.join(", ")
                        ));
                    }
                }
                Ok(())
            }
        }
    }

    /// Short name for `policy describe`.
    pub fn describe(&self) -> String {
        match self {
            ParamType::Str => "string".into(),
            ParamType::Regex => "regex".into(),
            ParamType::Int => "integer".into(),
            ParamType::Float => "number".into(),
            ParamType::Bool => "boolean".into(),
            ParamType::List => "comma-separated list".into(),
            ParamType::Enum(v) => format!("one of: {}", v.join(", ")),
            ParamType::EnumList(v) => format!("comma-separated list of: {}", v.join(", ")),
        }
    }
}

/// One trigger parameter.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ParamSpec {
    /// Parameter name (lower case; bundles may use any case).
    pub name: &'static str,
    /// Value type.
    #[serde(rename = "value_type")]
    pub ty: ParamType,
    /// Whether a rule must give it.
    pub required: bool,
    /// What it does.
    pub description: &'static str,
    /// An example value.
    pub example: &'static str,
}

/// Lifecycle of a gate or trigger, as Anchore tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Current.
    Active,
    /// Still evaluated, with a warning.
    Deprecated,
    /// No longer accepted: a bundle using it fails validation.
    Eol,
}

/// One trigger of a gate.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TriggerSpec {
    /// Trigger name.
    pub name: &'static str,
    /// What makes it fire.
    pub description: &'static str,
    /// Its parameters.
    pub params: &'static [ParamSpec],
    /// Lifecycle state.
    pub lifecycle: Lifecycle,
    /// When the analyser does not collect the data this trigger needs: why. Such a trigger is reported in
    /// `Verdict::not_evaluated` instead of silently passing.
    pub missing_data: Option<&'static str>,
}

/// One gate.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct GateSpec {
    /// Gate name.
    pub name: &'static str,
    /// What it checks.
    pub description: &'static str,
    /// Lifecycle state.
    pub lifecycle: Lifecycle,
    /// For an end-of-life gate: the gate that replaces it.
    pub superseded_by: Option<&'static str>,
    /// Its triggers.
    pub triggers: &'static [TriggerSpec],
}

impl GateSpec {
    /// The trigger named `name` (case-insensitive).
    pub fn trigger(&self, name: &str) -> Option<&'static TriggerSpec> {
        self.triggers
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }
}

/// The gate named `name` (case-insensitive), including end-of-life gates.
pub fn gate(name: &str) -> Option<&'static GateSpec> {
    GATES.iter().find(|g| g.name.eq_ignore_ascii_case(name))
}

/// `policy describe` as text: every gate (or one gate, or one trigger) with triggers and parameters.
/// End-of-life gates are listed last with their replacement. `Err` names an unknown gate or trigger.
pub fn describe(gate_name: Option<&str>, trigger_name: Option<&str>) -> Result<String, String> {
    let gates: Vec<&GateSpec> = match gate_name {
        None => GATES.iter().collect(),
        Some(n) => vec![gate(n).ok_or_else(|| {
            format!(
                "gate `{n}` does not exist; valid gates: {}",
                GATES
                    .iter()
                    .filter(|g| g.lifecycle != Lifecycle::Eol)
                    .map(|g| g.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?],
    };
    let mut out = String::new();
    for g in gates {
        if g.lifecycle == Lifecycle::Eol {
            let by = g
                .superseded_by
                .map(|s| format!(", use `{s}`"))
                .unwrap_or_default();
            out.push_str(&format!("Gate: {} (end-of-life{by})\n\n", g.name));
            continue;
        }
        let state = if g.lifecycle == Lifecycle::Deprecated {
            " (deprecated)"
        } else {
            ""
        };
        out.push_str(&format!("Gate: {}{state}\n  {}\n", g.name, g.description));
        let triggers: Vec<&TriggerSpec> = match trigger_name {
            None => g.triggers.iter().collect(),
            Some(t) => vec![g.trigger(t).ok_or_else(|| {
                format!(
                    "trigger `{t}` does not exist in gate `{}`; valid triggers: {}",
                    g.name,
                    g.triggers
                        .iter()
                        .map(|t| t.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?],
        };
        for t in triggers {
            out.push_str(&format!("  Trigger: {}\n    {}\n", t.name, t.description));
            if let Some(m) = t.missing_data {
                out.push_str(&format!("    Not evaluated in this build: {m}\n"));
            }
            for p in t.params {
                out.push_str(&format!(
                    "    - {}{} ({}): {} Example: {}\n",
                    p.name,
                    if p.required { " [required]" } else { "" },
                    p.ty.describe(),
                    p.description,
                    p.example
                ));
            }
        }
        out.push('\n');
    }
    Ok(out)
}

const fn p(
    name: &'static str,
    ty: ParamType,
    required: bool,
    description: &'static str,
    example: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        ty,
        required,
        description,
        example,
    }
}

const fn t(
    name: &'static str,
    description: &'static str,
    params: &'static [ParamSpec],
) -> TriggerSpec {
    TriggerSpec {
        name,
        description,
        params,
        lifecycle: Lifecycle::Active,
        missing_data: None,
    }
}

const fn t_missing(
    name: &'static str,
    description: &'static str,
    params: &'static [ParamSpec],
    missing: &'static str,
) -> TriggerSpec {
    TriggerSpec {
        name,
        description,
        params,
        lifecycle: Lifecycle::Active,
        missing_data: Some(missing),
    }
}

const fn gate_def(
    name: &'static str,
    description: &'static str,
    lifecycle: Lifecycle,
    triggers: &'static [TriggerSpec],
) -> GateSpec {
    GateSpec {
        name,
        description,
        lifecycle,
        superseded_by: None,
        triggers,
    }
}

const fn eol(name: &'static str, superseded_by: Option<&'static str>) -> GateSpec {
    GateSpec {
        name,
        description: "End-of-life gate of anchore-engine before 0.2; no longer evaluated.",
        lifecycle: Lifecycle::Eol,
        superseded_by,
        triggers: &[],
    }
}

const CMP: ParamType = ParamType::Enum(COMPARISONS);
const SEV: ParamType = ParamType::Enum(SEVERITIES);
const LIST_TYPE: ParamType = ParamType::Enum(&["whitelist", "blacklist"]);
const ACTUAL_DF: ParamSpec = p(
    "actual_dockerfile_only",
    ParamType::Bool,
    false,
    "Only evaluate against a user-provided Dockerfile, skip the one guessed from the image history.",
    "true",
);

const NO_FEED: &str =
    "the analyser keeps no per-ecosystem package feed to compare versions against";
const NO_CONTENT: &str = "the analyser does not retain file contents";

/// Every gate, in `policy describe` order.
pub static GATES: &[GateSpec] = &[
    gate_def(
        "always",
        "Triggers that fire unconditionally if present in policy, useful for things like testing and blacklisting.",
        Lifecycle::Active,
        &[t(
            "always",
            "Fires if present in a policy being evaluated.",
            &[],
        )],
    ),
    gate_def(
        "dockerfile",
        "Checks against the content of a Dockerfile if provided, or a Dockerfile guessed from the image history.",
        Lifecycle::Active,
        &[
            t(
                "instruction",
                "Triggers if any directive in the list of instructions matches the check and value.",
                &[
                    p(
                        "instruction",
                        ParamType::Enum(INSTRUCTIONS),
                        true,
                        "The Dockerfile instruction to check.",
                        "FROM",
                    ),
                    p(
                        "check",
                        ParamType::Enum(INSTRUCTION_CHECKS),
                        true,
                        "The type of check to perform.",
                        "=",
                    ),
                    p(
                        "value",
                        ParamType::Str,
                        false,
                        "The value to check the instruction's argument against (regex for like/not_like, comma list for in/not_in).",
                        "scratch",
                    ),
                    ACTUAL_DF,
                ],
            ),
            t(
                "effective_user",
                "Checks if the effective user matches the provided user names, as a whitelist or blacklist.",
                &[
                    p(
                        "users",
                        ParamType::List,
                        true,
                        "User names to check against as the effective user (last USER).",
                        "root,docker",
                    ),
                    p(
                        "type",
                        LIST_TYPE,
                        true,
                        "How to treat the provided user names.",
                        "blacklist",
                    ),
                    ACTUAL_DF,
                ],
            ),
            t(
                "exposed_ports",
                "Evaluates the set of ports exposed (EXPOSE and image config), as a whitelist or blacklist.",
                &[
                    p(
                        "ports",
                        ParamType::List,
                        true,
                        "Ports to check.",
                        "80,8080,8088",
                    ),
                    p(
                        "type",
                        LIST_TYPE,
                        true,
                        "Whether the ports are allowed (whitelist) or forbidden (blacklist).",
                        "blacklist",
                    ),
                    ACTUAL_DF,
                ],
            ),
            t(
                "no_dockerfile_provided",
                "Triggers if anchore analysis was performed without supplying the actual image Dockerfile.",
                &[],
            ),
        ],
    ),
    gate_def(
        "files",
        "Checks against files in the analysed image including file content, file names, and filesystem attributes.",
        Lifecycle::Active,
        &[
            t_missing(
                "content_regex_match",
                "Triggers for each file where the content search analyser found a match using configured regexes.",
                &[p(
                    "regex_name",
                    ParamType::Str,
                    false,
                    "Regex string that also appears in the analyser configuration, to limit matches to it.",
                    ".*password.*",
                )],
                NO_CONTENT,
            ),
            t(
                "name_match",
                "Triggers if a file exists in the container that has a filename that matches the provided regex.",
                &[p(
                    "regex",
                    ParamType::Regex,
                    true,
                    "Regex to apply to file names.",
                    ".*\\.pem",
                )],
            ),
            t_missing(
                "attribute_match",
                "Triggers if a filename exists in the container that has attributes that match those provided.",
                &[
                    p(
                        "filename",
                        ParamType::Str,
                        true,
                        "Filename to check against provided checksum.",
                        "/etc/passwd",
                    ),
                    p(
                        "checksum_algorithm",
                        ParamType::Enum(&["sha256"]),
                        false,
                        "Checksum algorithm.",
                        "sha256",
                    ),
                    p(
                        "checksum",
                        ParamType::Str,
                        false,
                        "Checksum of file.",
                        "832cd0f75b227d13aac82b1f70b7f90191a4186c151f9db50851d209c45ede11",
                    ),
                    p(
                        "checksum_match",
                        ParamType::Enum(&["equals", "not_equals"]),
                        false,
                        "Checksum operation to perform.",
                        "equals",
                    ),
                    p(
                        "mode",
                        ParamType::Str,
                        false,
                        "File mode of file (octal).",
                        "00644",
                    ),
                    p(
                        "mode_op",
                        ParamType::Enum(COMPARISONS),
                        false,
                        "File mode operation to perform.",
                        "=",
                    ),
                    p(
                        "skip_missing",
                        ParamType::Bool,
                        false,
                        "If set to true, do not fire this trigger if the file is not present.",
                        "true",
                    ),
                ],
                "the analyser records modes only for setuid/setgid files and no file checksums",
            ),
            t(
                "suid_or_guid_set",
                "Fires for each file found to have suid or sgid bit set.",
                &[],
            ),
        ],
    ),
    gate_def(
        "licenses",
        "License checks against found software licenses in the container image.",
        Lifecycle::Active,
        &[
            t(
                "blacklist_exact_match",
                "Triggers if the evaluated image has a package installed with software distributed under the specified (exact match) license(s).",
                &[
                    p(
                        "licenses",
                        ParamType::List,
                        true,
                        "List of license names to blacklist exactly.",
                        "GPLv2+,GPL-3+,BSD-2-clause",
                    ),
                    p(
                        "package_type",
                        ParamType::Enum(&["all", "os", "non-os"]),
                        false,
                        "Only trigger for specific package type.",
                        "all",
                    ),
                ],
            ),
            t(
                "blacklist_partial_match",
                "Triggers if the evaluated image has a package installed with software distributed under the specified (substring match) license(s).",
                &[
                    p(
                        "licenses",
                        ParamType::List,
                        true,
                        "List of strings to do substring match for blacklist.",
                        "LGPL,BSD",
                    ),
                    p(
                        "package_type",
                        ParamType::Enum(&["all", "os", "non-os"]),
                        false,
                        "Only trigger for specific package type.",
                        "all",
                    ),
                ],
            ),
        ],
    ),
    gate_def(
        "malware",
        "Checks for malware scan findings in the image.",
        Lifecycle::Active,
        &[
            t_missing(
                "scans",
                "Triggers if the malware scanner found any matches in the image.",
                &[],
                "the analyser runs no malware scanner",
            ),
            t_missing(
                "scan_not_run",
                "Triggers if no malware scan has been run on the image.",
                &[],
                "the analyser runs no malware scanner",
            ),
        ],
    ),
    gate_def(
        "metadata",
        "Checks against image metadata, such as size, OS, distro, architecture, etc.",
        Lifecycle::Active,
        &[t(
            "attribute",
            "Triggers if a named image metadata value matches the given condition.",
            &[
                p(
                    "attribute",
                    ParamType::Enum(ATTRIBUTES),
                    true,
                    "Attribute name to be checked.",
                    "size",
                ),
                p(
                    "check",
                    ParamType::Enum(ATTRIBUTE_CHECKS),
                    true,
                    "The operation to perform the evaluation.",
                    ">",
                ),
                p(
                    "value",
                    ParamType::Str,
                    false,
                    "Value used in comparison.",
                    "1073741824",
                ),
            ],
        )],
    ),
    GateSpec {
        name: "npms",
        description: "NPM checks (deprecated in anchore-engine).",
        lifecycle: Lifecycle::Deprecated,
        superseded_by: None,
        triggers: &[
            t_missing(
                "newer_version_in_feed",
                "Triggers if an installed NPM is not the latest version according to NPM data feed.",
                &[],
                NO_FEED,
            ),
            t_missing(
                "unknown_in_feeds",
                "Triggers if an installed NPM is not in the NPM data feed.",
                &[],
                NO_FEED,
            ),
            t_missing(
                "version_not_in_feeds",
                "Triggers if an installed NPM version is not listed in the official NPM feed as a valid version.",
                &[],
                NO_FEED,
            ),
            t(
                "blacklisted_name_version",
                "Triggers if the evaluated image has an NPM package installed that matches the name and optionally a version specified in the parameters.",
                &[
                    p(
                        "name",
                        ParamType::Str,
                        true,
                        "Npm package name to blacklist.",
                        "time_diff",
                    ),
                    p(
                        "version",
                        ParamType::Str,
                        false,
                        "Npm package version to blacklist specifically.",
                        "0.2.9",
                    ),
                ],
            ),
            t_missing(
                "feed_data_unavailable",
                "Triggers if the engine does not have access to the NPM data feed.",
                &[],
                NO_FEED,
            ),
        ],
    },
    gate_def(
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
    ),
    gate_def(
        "passwd_file",
        "Content checks for /etc/passwd for things like usernames, group ids, shells, or full entries.",
        Lifecycle::Active,
        &[
            t(
                "content_not_available",
                "Triggers if the /etc/passwd file is not present/stored in the evaluated image.",
                &[],
            ),
            t(
                "blacklist_usernames",
                "Triggers if specified username is found in the /etc/passwd file.",
                &[p(
                    "user_names",
                    ParamType::List,
                    true,
                    "List of usernames that will cause the trigger to fire if found in /etc/passwd.",
                    "daemon,ftp",
                )],
            ),
            t(
                "blacklist_userids",
                "Triggers if specified user id is found in the /etc/passwd file.",
                &[p(
                    "user_ids",
                    ParamType::List,
                    true,
                    "List of userids (numeric) that will cause the trigger to fire if found in /etc/passwd.",
                    "0,1",
                )],
            ),
            t(
                "blacklist_groupids",
                "Triggers if specified group id is found in the /etc/passwd file.",
                &[p(
                    "group_ids",
                    ParamType::List,
                    true,
                    "List of groupids (numeric) that will cause the trigger ot fire if found in /etc/passwd.",
                    "999,20",
                )],
            ),
            t(
                "blacklist_shells",
                "Triggers if specified login shell for any user is found in the /etc/passwd file.",
                &[p(
                    "shells",
                    ParamType::List,
                    true,
                    "List of shell commands to blacklist.",
                    "/bin/bash,/bin/zsh",
                )],
            ),
            t(
                "blacklist_full_entry",
                "Triggers if entire specified passwd entry is found in the /etc/passwd file.",
                &[p(
                    "entry",
                    ParamType::Str,
                    true,
                    "Full entry to match in /etc/passwd.",
                    "ftp:x:14:50:FTP User:/var/ftp:/sbin/nologin",
                )],
            ),
        ],
    ),
    gate_def(
        "retrieved_files",
        "Checks against content and/or presence of files retrieved at analysis time from an image.",
        Lifecycle::Active,
        &[
            t(
                "content_not_available",
                "Triggers if the specified file is not present/stored in the evaluated image.",
                &[p(
                    "path",
                    ParamType::Str,
                    true,
                    "The path of the file to verify has been retrieved during analysis.",
                    "/etc/httpd.conf",
                )],
            ),
            t(
                "content_regex",
                "Evaluation of regex on retrieved file content.",
                &[
                    p(
                        "path",
                        ParamType::Str,
                        true,
                        "The path of the file to verify has been retrieved during analysis.",
                        "/etc/httpd.conf",
                    ),
                    p(
                        "check",
                        ParamType::Enum(&["match", "no_match"]),
                        true,
                        "The type of check to perform with the regex.",
                        "match",
                    ),
                    p(
                        "regex",
                        ParamType::Regex,
                        true,
                        "The regex to evaluate against the content of the file.",
                        ".*SSlEnabled.*",
                    ),
                ],
            ),
        ],
    ),
    GateSpec {
        name: "ruby_gems",
        description: "Ruby Gem checks (deprecated in anchore-engine).",
        lifecycle: Lifecycle::Deprecated,
        superseded_by: None,
        triggers: &[
            t_missing(
                "newer_version_found_in_feed",
                "Triggers if an installed Gem is not the latest version according to the Gem data feed.",
                &[],
                NO_FEED,
            ),
            t_missing(
                "not_found_in_feed",
                "Triggers if an installed Gem is not in the official Gem database.",
                &[],
                NO_FEED,
            ),
            t_missing(
                "version_not_found_in_feed",
                "Triggers if an installed Gem version is not listed in the official Gem feed as a valid version.",
                &[],
                NO_FEED,
            ),
            t(
                "blacklist",
                "Triggers if the evaluated image has a Gem package installed that matches the specified name and version.",
                &[
                    p(
                        "name",
                        ParamType::Str,
                        true,
                        "Gem name to blacklist.",
                        "time_diff",
                    ),
                    p(
                        "version",
                        ParamType::Str,
                        false,
                        "Optional version to blacklist specifically.",
                        "0.2.9",
                    ),
                ],
            ),
            t_missing(
                "feed_data_unavailable",
                "Triggers if the engine does not have access to the Gem data feed.",
                &[],
                NO_FEED,
            ),
        ],
    },
    gate_def(
        "secret_scans",
        "Checks for secrets and content found in the image using configured regexes found in the \"secret_search\" section of analyzer_config.yaml.",
        Lifecycle::Active,
        &[t_missing(
            "content_regex_checks",
            "Triggers if the secret content search analyser has found any matches with the configured and named regexes.",
            &[
                p(
                    "content_regex_name",
                    ParamType::Str,
                    false,
                    "Name of a configured regex to check for a match.",
                    "AWS_ACCESS_KEY",
                ),
                p(
                    "filename_regex",
                    ParamType::Regex,
                    false,
                    "Regex to restrict the files checked.",
                    "/etc/.*",
                ),
                p(
                    "match_type",
                    ParamType::Enum(&["notfound", "found"]),
                    false,
                    "Fire on found or notfound.",
                    "found",
                ),
            ],
            "the analyser runs no secret search",
        )],
    ),
    gate_def(
        "vulnerabilities",
        "CVE/Vulnerability checks.",
        Lifecycle::Active,
        &[
            t(
                "package",
                "Triggers if a found vulnerability in an image meets the comparison criteria.",
                &[
                    p(
                        "package_type",
                        ParamType::Enum(&["all", "os", "non-os"]),
                        true,
                        "Only trigger for specific package type.",
                        "all",
                    ),
                    p(
                        "severity_comparison",
                        CMP,
                        false,
                        "The type of comparison to perform for severity evaluation (default `>`).",
                        ">",
                    ),
                    p(
                        "severity",
                        SEV,
                        false,
                        "Severity to compare against (default `unknown`).",
                        "high",
                    ),
                    p(
                        "cvss_v3_base_score_comparison",
                        CMP,
                        false,
                        "The type of comparison to perform for CVSS v3 base score evaluation (default `>=`).",
                        ">",
                    ),
                    p(
                        "cvss_v3_base_score",
                        ParamType::Float,
                        false,
                        "CVSS v3 base score to compare against.",
                        "5.0",
                    ),
                    p(
                        "cvss_v3_exploitability_score_comparison",
                        CMP,
                        false,
                        "The type of comparison to perform for CVSS v3 exploitability sub score evaluation.",
                        ">",
                    ),
                    p(
                        "cvss_v3_exploitability_score",
                        ParamType::Float,
                        false,
                        "CVSS v3 exploitability sub score to compare against.",
                        "5.0",
                    ),
                    p(
                        "cvss_v3_impact_score_comparison",
                        CMP,
                        false,
                        "The type of comparison to perform for CVSS v3 impact sub score evaluation.",
                        ">",
                    ),
                    p(
                        "cvss_v3_impact_score",
                        ParamType::Float,
                        false,
                        "CVSS v3 impact sub score to compare against.",
                        "5.0",
                    ),
                    p(
                        "fix_available",
                        ParamType::Bool,
                        false,
                        "If present, the fix availability for the vulnerability record must match the value of this parameter.",
                        "true",
                    ),
                    p(
                        "vendor_only",
                        ParamType::Bool,
                        false,
                        "If true (the default), a vulnerability the vendor marked as won't-fix does not trigger.",
                        "true",
                    ),
                    p(
                        "max_days_since_creation",
                        ParamType::Int,
                        false,
                        "If provided, this CVE must be older than the days provided to trigger.",
                        "7",
                    ),
                    p(
                        "max_days_since_fix",
                        ParamType::Int,
                        false,
                        "If provided (only evaluated when fix_available is also true), the fix must be older than the days provided, to trigger.",
                        "30",
                    ),
                    p(
                        "vendor_cvss_v3_base_score_comparison",
                        CMP,
                        false,
                        "The type of comparison to perform for vendor specified CVSS v3 base score evaluation.",
                        ">",
                    ),
                    p(
                        "vendor_cvss_v3_base_score",
                        ParamType::Float,
                        false,
                        "Vendor CVSS v3 base score to compare against.",
                        "5.0",
                    ),
                    p(
                        "vendor_cvss_v3_exploitability_score_comparison",
                        CMP,
                        false,
                        "The type of comparison to perform for vendor specified CVSS v3 exploitability sub score evaluation.",
                        ">",
                    ),
                    p(
                        "vendor_cvss_v3_exploitability_score",
                        ParamType::Float,
                        false,
                        "Vendor CVSS v3 exploitability sub score to compare against.",
                        "5.0",
                    ),
                    p(
                        "vendor_cvss_v3_impact_score_comparison",
                        CMP,
                        false,
                        "The type of comparison to perform for vendor specified CVSS v3 impact sub score evaluation.",
                        ">",
                    ),
                    p(
                        "vendor_cvss_v3_impact_score",
                        ParamType::Float,
                        false,
                        "Vendor CVSS v3 impact sub score to compare against.",
                        "5.0",
                    ),
                    p(
                        "package_path_exclude",
                        ParamType::Regex,
                        false,
                        "The regex to evaluate against the package path to exclude vulnerabilities.",
                        ".*test\\.jar*",
                    ),
                ],
            ),
            t(
                "blacklist",
                "Triggers if any of a list of specified vulnerabilities has been detected in the image.",
                &[
                    p(
                        "vulnerability_ids",
                        ParamType::List,
                        true,
                        "List of vulnerability IDs, will cause the trigger to fire if any are detected.",
                        "CVE-2019-1234",
                    ),
                    p(
                        "vendor_only",
                        ParamType::Bool,
                        false,
                        "If true (the default), a vulnerability the vendor marked as won't-fix does not trigger.",
                        "true",
                    ),
                ],
            ),
            t(
                "stale_feed_data",
                "Triggers if the CVE data is older than the window specified by the parameter (unit is number of days).",
                &[p(
                    "max_days_since_sync",
                    ParamType::Int,
                    true,
                    "Fire the trigger if the last sync was more than this number of days ago.",
                    "10",
                )],
            ),
            t(
                "vulnerability_data_unavailable",
                "Triggers if vulnerability data is unavailable for the image's distro packages.",
                &[],
            ),
            t(
                "kev",
                "Triggers for each vulnerability found in the image that is on CISA's Known Exploited Vulnerabilities list (Portcullis extension).",
                &[p(
                    "package_type",
                    ParamType::Enum(&["all", "os", "non-os"]),
                    false,
                    "Only trigger for specific package type (default all).",
                    "all",
                )],
            ),
            t(
                "epss",
                "Triggers for each vulnerability found in the image whose EPSS probability meets the comparison (Portcullis extension).",
                &[
                    p(
                        "epss_score",
                        ParamType::Float,
                        true,
                        "EPSS probability (0..1) to compare against.",
                        "0.1",
                    ),
                    p(
                        "epss_comparison",
                        CMP,
                        false,
                        "The comparison to perform (default `>=`).",
                        ">=",
                    ),
                    p(
                        "package_type",
                        ParamType::Enum(&["all", "os", "non-os"]),
                        false,
                        "Only trigger for specific package type (default all).",
                        "all",
                    ),
                ],
            ),
        ],
    ),
    gate_def(
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
    ),
    eol("anchoresec", Some("vulnerabilities")),
    eol("dockerfilecheck", Some("dockerfile")),
    eol("filecheck", Some("files")),
    eol("fileparse_passwd", Some("passwd_file")),
    eol("gemcheck", Some("ruby_gems")),
    eol("imagecheck", Some("metadata")),
    eol("licblacklist", Some("licenses")),
    eol("metadatacheck", Some("metadata")),
    eol("npmcheck", Some("npms")),
    eol("pkgblacklist", Some("packages")),
    eol("pkgcheck", Some("packages")),
    eol("pkgdiff", None),
    eol("suiddiff", None),
    eol("secretcheck", Some("secret_scans")),
    eol("contentcheck", Some("retrieved_files")),
    eol("basecheck", None),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lower_case() {
        let mut seen = std::collections::BTreeSet::new();
        for g in GATES {
            assert!(seen.insert(g.name), "duplicate gate {}", g.name);
            assert_eq!(g.name, g.name.to_ascii_lowercase());
            let mut ts = std::collections::BTreeSet::new();
            for tr in g.triggers {
                assert!(
                    ts.insert(tr.name),
                    "duplicate trigger {}.{}",
                    g.name,
                    tr.name
                );
                for pa in tr.params {
                    assert_eq!(pa.name, pa.name.to_ascii_lowercase());
                    assert!(pa.ty.check(pa.example).is_ok() || pa.ty == ParamType::Regex);
                }
            }
        }
    }

    #[test]
    fn describe_lists_every_parameter_from_the_catalogue() {
        let all = describe(None, None).unwrap();
        for g in GATES {
            assert!(all.contains(&format!("Gate: {}", g.name)));
            for t in g.triggers {
                assert!(all.contains(&format!("Trigger: {}", t.name)));
                for p in t.params {
                    assert!(all.contains(&format!("- {}", p.name)));
                }
            }
        }
        let one = describe(Some("Vulnerabilities"), Some("package")).unwrap();
        assert!(one.contains("cvss_v3_base_score") && !one.contains("stale_feed_data"));
        assert!(
            describe(Some("nope"), None)
                .unwrap_err()
                .contains("valid gates")
        );
        assert!(
            describe(Some("files"), Some("nope"))
                .unwrap_err()
                .contains("name_match")
        );
        assert!(
            describe(Some("malware"), None)
                .unwrap()
                .contains("Not evaluated in this build")
        );
    }

    #[test]
    fn param_types_reject_bad_values() {
        assert!(ParamType::Int.check("x").is_err());
        assert!(ParamType::Bool.check("yes").is_err());
        assert!(ParamType::Enum(SEVERITIES).check("High").is_ok());
        assert!(ParamType::Enum(SEVERITIES).check("urgent").is_err());
        assert!(ParamType::EnumList(&["a", "b"]).check("a, c").is_err());
    }
}
