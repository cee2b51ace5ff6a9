//! Gate `dockerfile`: checks the Dockerfile given with the image, or the one guessed from its history.

use super::common::{boolean, list, re_match};
use super::{Ctx, Gate, Outcome, Params};
use crate::ImageInput;
use crate::catalog::{GateSpec, Lifecycle, ParamSpec, ParamType, TriggerSpec, gate_def, p, t};

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
const LIST_TYPE: ParamType = ParamType::Enum(&["whitelist", "blacklist"]);
const ACTUAL_DF: ParamSpec = p(
    "actual_dockerfile_only",
    ParamType::Bool,
    false,
    "Only evaluate against a user-provided Dockerfile, skip the one guessed from the image history.",
    "true",
);

/// The `dockerfile` gate.
pub(crate) struct Dockerfile;

/// A compiled `dockerfile` rule.
#[derive(Debug)]
pub(crate) enum Check {
    /// `dockerfile.instruction`.
    Instruction {
        instruction: String,
        check: String,
        value: Option<String>,
        like: Option<regex::Regex>,
        actual_only: bool,
    },
    /// `dockerfile.effective_user`.
    EffectiveUser {
        users: Vec<String>,
        allow: bool,
        actual_only: bool,
    },
    /// `dockerfile.exposed_ports`.
    ExposedPorts {
        ports: Vec<String>,
        allow: bool,
        actual_only: bool,
    },
    /// `dockerfile.no_dockerfile_provided`.
    NoDockerfile,
}

impl Gate for Dockerfile {
    type Check = Check;

    const SPEC: GateSpec = gate_def(
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
                        ParamType::IntList,
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
    );

    fn compile(trigger: &'static TriggerSpec, params: &Params) -> Result<Check, String> {
        let g = |k: &str| params.get(k);
        let s = |k: &str| params.get(k).cloned().unwrap_or_default();
        let actual_only = boolean(g("actual_dockerfile_only")).unwrap_or(false);
        Ok(match trigger.name {
            "instruction" => {
                let check = s("check").to_ascii_lowercase();
                let value = g("value").cloned();
                let like = match (&check[..], &value) {
                    ("like" | "not_like", Some(v)) => Some(re_match(v, "value")?),
                    ("like" | "not_like", None) => {
                        return Err(format!("check `{check}` needs a `value` regex"));
                    }
                    _ => None,
                };
                Check::Instruction {
                    instruction: s("instruction").to_ascii_uppercase(),
                    check,
                    value,
                    like,
                    actual_only,
                }
            }
            "effective_user" => Check::EffectiveUser {
                users: list(g("users")),
                allow: s("type").eq_ignore_ascii_case("whitelist"),
                actual_only,
            },
            "exposed_ports" => Check::ExposedPorts {
                ports: list(g("ports")),
                allow: s("type").eq_ignore_ascii_case("whitelist"),
                actual_only,
            },
            "no_dockerfile_provided" => Check::NoDockerfile,
            other => {
                return Err(format!(
                    "dockerfile.{other} has no implementation in this build"
                ));
            }
        })
    }

    fn run<'c>(check: &Check, ctx: &'c Ctx<'_>, out: &mut Outcome<'c>) {
        let input = &ctx.input;
        let df = &ctx.df;
        match check {
            Check::NoDockerfile => {
                if !df.actual {
                    out.fire("no_dockerfile_provided", || {
                        "Image was not analyzed with an actual Dockerfile".into()
                    });
                }
            }
            Check::Instruction { actual_only, .. }
            | Check::EffectiveUser { actual_only, .. }
            | Check::ExposedPorts { actual_only, .. }
                if *actual_only && !df.actual =>
            {
                out.missing("actual_dockerfile_only is set and no actual Dockerfile was provided");
            }
            Check::Instruction {
                instruction,
                check,
                value,
                like,
                ..
            } => {
                let lines: Vec<&String> = df
                    .lines
                    .iter()
                    .filter(|(k, _)| k == instruction)
                    .map(|(_, v)| v)
                    .collect();
                let val = value.clone().unwrap_or_default();
                let in_list = |arg: &str| val.split(',').any(|x| x.trim() == arg.trim());
                match check.as_str() {
                    "exists" => {
                        if let Some(arg) = lines.first() {
                            out.fire(
                                instruction.clone(), || format!("Dockerfile directive '{instruction}' check 'exists' matched against '' for line '{arg}'"),
                            );
                        }
                    }
                    "not_exists" => {
                        if lines.is_empty() {
                            out.fire(
                                instruction.clone(), || format!("Dockerfile directive '{instruction}' not found, matching condition 'not_exists' check"),
                            );
                        }
                    }
                    c => {
                        for arg in lines {
                            let hit = match c {
                                "=" => arg.trim() == val.trim(),
                                "!=" => arg.trim() != val.trim(),
                                "like" => like.as_ref().is_some_and(|r| r.is_match(arg)),
                                "not_like" => !like.as_ref().is_some_and(|r| r.is_match(arg)),
                                "in" => in_list(arg),
                                "not_in" => !in_list(arg),
                                _ => false,
                            };
                            if hit {
                                out.fire(
                                    instruction.clone(), || format!("Dockerfile directive '{instruction}' check '{c}' matched against '{val}' for line '{arg}'"),
                                );
                            }
                        }
                    }
                }
            }
            Check::EffectiveUser { users, allow, .. } => {
                let user = effective_user(input, df);
                let listed = users.contains(&user);
                if listed != *allow {
                    let kind = if *allow { "whitelist" } else { "blacklist" };
                    out.fire(
                        user.clone(), || format!("User {user} found as effective user, which is not on the allowed list ({kind})"),
                    );
                }
            }
            Check::ExposedPorts { ports, allow, .. } => {
                for p in exposed_ports(input, df) {
                    let listed = ports
                        .iter()
                        .any(|x| x == &p || (!x.contains('/') && x == port_number(&p)));
                    if listed != *allow {
                        let kind = if *allow {
                            "not in policy whitelist"
                        } else {
                            "in policy blacklist"
                        };
                        out.fire(port_number(&p).to_string(), || {
                            format!("Dockerfile exposes port ({p}) which is {kind}")
                        });
                    }
                }
            }
        }
    }
}

/// Dockerfile instructions (upper-case keyword, arguments), from the actual Dockerfile or the image history.
pub(crate) struct DockerfileView {
    pub actual: bool,
    pub lines: Vec<(String, String)>,
}

impl DockerfileView {
    pub(crate) fn new(input: &ImageInput<'_>) -> DockerfileView {
        if let Some(df) = input.dockerfile {
            return DockerfileView {
                actual: true,
                lines: parse_dockerfile(df),
            };
        }
        let md = &input.sbom.metadata;
        let lines = match &md.dockerfile {
            Some(df) => parse_dockerfile(df),
            None => md.history.iter().map(|h| history_line(h)).collect(),
        };
        DockerfileView {
            actual: false,
            lines,
        }
    }
}

/// Splits Dockerfile text into instructions (continuation lines joined, comments dropped).
fn parse_dockerfile(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if cur.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if let Some(body) = t.strip_suffix('\\') {
            cur.push_str(body);
            cur.push(' ');
            continue;
        }
        cur.push_str(t);
        out.push(split_instruction(&cur));
        cur.clear();
    }
    if !cur.trim().is_empty() {
        out.push(split_instruction(&cur));
    }
    out
}

fn split_instruction(s: &str) -> (String, String) {
    let s = s.trim();
    match s.split_once(char::is_whitespace) {
        Some((k, rest)) => (k.to_ascii_uppercase(), rest.trim().to_string()),
        None => (s.to_ascii_uppercase(), String::new()),
    }
}

/// Turns one history `created_by` entry into an instruction, as Anchore guesses a Dockerfile:
/// `/bin/sh -c #(nop) CMD ["sh"]` → `CMD ["sh"]`, `/bin/sh -c apt-get …` → `RUN apt-get …`,
/// BuildKit's `RUN /bin/sh -c …` and `EXPOSE map[80/tcp:{}]` kept as they are.
fn history_line(created_by: &str) -> (String, String) {
    let s = created_by.trim();
    let s = s
        .strip_prefix("/bin/sh -c #(nop)")
        .map(str::trim)
        .map(str::to_string)
        .or_else(|| {
            s.strip_prefix("/bin/sh -c ")
                .map(|rest| format!("RUN {}", rest.trim()))
        })
        .unwrap_or_else(|| s.to_string());
    let (k, v) = split_instruction(&s);
    if INSTRUCTIONS.contains(&k.as_str()) {
        (k, v)
    } else {
        ("RUN".to_string(), s)
    }
}

fn port_number(p: &str) -> &str {
    p.split('/').next().unwrap_or(p).trim()
}

fn exposed_ports(input: &ImageInput<'_>, df: &DockerfileView) -> Vec<String> {
    let mut ports: Vec<String> = Vec::new();
    let mut add = |p: &str| {
        let p = p.trim().trim_matches(|c| c == '{' || c == '}');
        if !p.is_empty() && !ports.iter().any(|x| port_number(x) == port_number(p)) {
            ports.push(p.to_string());
        }
    };
    for (k, v) in &df.lines {
        if k == "EXPOSE" {
            let v = v.trim_start_matches("map[").trim_end_matches(']');
            for p in v.split_whitespace() {
                add(p.trim_end_matches(":{}"));
            }
        }
    }
    if !df.actual {
        for p in &input.sbom.metadata.exposed_ports {
            add(p);
        }
    }
    ports
}

fn effective_user(input: &ImageInput<'_>, df: &DockerfileView) -> String {
    let from_df = df
        .lines
        .iter()
        .rev()
        .find(|(k, _)| k == "USER")
        .map(|(_, v)| v.clone());
    let user = from_df.or_else(|| input.sbom.metadata.user.clone().filter(|u| !u.is_empty()));
    let user = user.unwrap_or_else(|| "root".into());
    user.split(':').next().unwrap_or("root").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_to_instructions() {
        assert_eq!(
            history_line("/bin/sh -c #(nop)  CMD [\"bash\"]"),
            ("CMD".into(), "[\"bash\"]".into())
        );
        assert_eq!(
            history_line("/bin/sh -c apt-get update"),
            ("RUN".into(), "apt-get update".into())
        );
        assert_eq!(
            history_line("EXPOSE map[80/tcp:{}]"),
            ("EXPOSE".into(), "map[80/tcp:{}]".into())
        );
        assert_eq!(history_line("|1 A=b /bin/sh -c make").0, "RUN");
    }

    #[test]
    fn dockerfile_parse_joins_continuations() {
        let lines = parse_dockerfile("FROM debian\n# c\nRUN a \\\n  b\nUSER app\n");
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1].0, "RUN");
        assert!(lines[1].1.contains('b'));
    }
}
