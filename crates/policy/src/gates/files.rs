//! Gate `files`: file names and attributes in the image.

use regex::Regex;

use super::common::re_match;
use super::{Ctx, Gate, Outcome, Params};
use crate::catalog::{GateSpec, Lifecycle, ParamType, TriggerSpec, gate_def, p, t, t_missing};

const NO_CONTENT: &str = "the analyser does not retain file contents";

/// The `files` gate.
pub(crate) struct Files;

/// A compiled `files` rule.
#[derive(Debug)]
pub(crate) enum Check {
    /// `files.name_match`.
    NameMatch(Regex),
    /// `files.suid_or_guid_set`.
    Suid,
}

impl Gate for Files {
    type Check = Check;

    const SPEC: GateSpec = gate_def(
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
                        ParamType::Enum(&["equals", "not_equals"]),
                        false,
                        "File mode operation to perform.",
                        "equals",
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
    );

    fn compile(trigger: &'static TriggerSpec, params: &Params) -> Result<Check, String> {
        match trigger.name {
            "name_match" => Ok(Check::NameMatch(re_match(
                params.get("regex").map(String::as_str).unwrap_or_default(),
                "regex",
            )?)),
            "suid_or_guid_set" => Ok(Check::Suid),
            other => Err(format!("files.{other} has no implementation in this build")),
        }
    }

    fn run<'c>(check: &Check, ctx: &'c Ctx<'_>, out: &mut Outcome<'c>) {
        let input = &ctx.input;
        let sbom = input.sbom;
        match check {
            Check::NameMatch(re) => {
                let mut seen = std::collections::BTreeSet::new();
                let paths: Box<dyn Iterator<Item = &String>> = match input.files {
                    Some(files) => Box::new(files.iter()),
                    None => Box::new(
                        sbom.special_files
                            .iter()
                            .map(|f| &f.path)
                            .chain(sbom.packages.iter().flat_map(|p| p.files.iter())),
                    ),
                };
                for path in paths {
                    if re.is_match(path) && seen.insert(path.as_str()) {
                        out.fire(
                            path.clone(), || format!("Application of regex matched file found in container: file={path} regexp={}", re.as_str()),
                        );
                    }
                }
                if input.files.is_none() {
                    out.not_evaluated = Some(
                        "the SBOM lists only package-owned and setuid/setgid files; other files were not checked"
                            .into(),
                    );
                }
            }
            Check::Suid => {
                for f in &sbom.special_files {
                    if f.mode & 0o6000 != 0 {
                        out.fire(f.path.clone(), || {
                            format!(
                                "SUID or SGID found set on file {}. Mode: {:o}",
                                f.path, f.mode
                            )
                        });
                    }
                }
            }
        }
    }
}
