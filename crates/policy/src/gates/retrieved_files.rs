//! Gate `retrieved_files`: presence and content of files retrieved at analysis time.

use regex::Regex;

use super::{Ctx, Gate, Outcome, Params};
use crate::catalog::{GateSpec, Lifecycle, ParamType, TriggerSpec, gate_def, p, t};

/// The `retrieved_files` gate.
pub(crate) struct RetrievedFiles;

/// A compiled `retrieved_files` rule.
#[derive(Debug)]
pub(crate) enum Check {
    /// `retrieved_files.content_not_available` for this path.
    NotAvailable(String),
    /// `retrieved_files.content_regex`.
    Regex {
        path: String,
        must_match: bool,
        re: Regex,
    },
}

impl Gate for RetrievedFiles {
    type Check = Check;

    const SPEC: GateSpec = gate_def(
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
    );

    fn compile(trigger: &'static TriggerSpec, params: &Params) -> Result<Check, String> {
        let s = |k: &str| params.get(k).cloned().unwrap_or_default();
        match trigger.name {
            "content_not_available" => Ok(Check::NotAvailable(s("path"))),
            "content_regex" => Ok(Check::Regex {
                path: s("path"),
                must_match: s("check").eq_ignore_ascii_case("match"),
                re: crate::pattern::user_regex(&s("regex"))
                    .map_err(|e| format!("parameter `regex` is not a valid regex: {e}"))?,
            }),
            other => Err(format!(
                "retrieved_files.{other} has no implementation in this build"
            )),
        }
    }

    fn run<'c>(check: &Check, ctx: &'c Ctx<'_>, out: &mut Outcome<'c>) {
        let Some(files) = ctx.input.retrieved_files else {
            return out.missing("the analyser retrieves no file contents");
        };
        match check {
            Check::NotAvailable(path) => {
                if !files.contains_key(path) {
                    out.fire(path.clone(), || {
                        format!("Cannot locate file in the image analysis: {path}")
                    });
                }
            }
            Check::Regex {
                path,
                must_match,
                re,
            } => match files.get(path) {
                None => out.missing(format!("file {path} was not retrieved")),
                Some(content) => {
                    let found = re.is_match(content);
                    if found == *must_match {
                        out.fire(path.clone(), || {
                            format!(
                                "Content check: regex {} {} in file {path}",
                                re.as_str(),
                                if found { "matched" } else { "did not match" }
                            )
                        });
                    }
                }
            },
        }
    }
}
