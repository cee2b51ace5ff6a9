//! Gate `passwd_file`: deny-lists checked against `/etc/passwd`.

use super::common::list;
use super::{Ctx, Gate, Outcome, Params};
use crate::catalog::{GateSpec, Lifecycle, ParamType, TriggerSpec, gate_def, p, t};

/// The `passwd_file` gate.
pub(crate) struct PasswdFile;

/// Which `/etc/passwd` field a `passwd_file` deny-list checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PasswdField {
    Name,
    Uid,
    Gid,
    Shell,
    FullEntry,
}

/// A compiled `passwd_file` rule.
#[derive(Debug)]
pub(crate) enum Check {
    /// `passwd_file.content_not_available`.
    NotAvailable,
    /// The `blacklist_*` triggers.
    Deny {
        field: PasswdField,
        values: Vec<String>,
    },
}

impl Gate for PasswdFile {
    type Check = Check;

    const SPEC: GateSpec = gate_def(
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
                    ParamType::IntList,
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
                    ParamType::IntList,
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
    );

    fn compile(trigger: &'static TriggerSpec, params: &Params) -> Result<Check, String> {
        let (field, key) = match trigger.name {
            "content_not_available" => return Ok(Check::NotAvailable),
            "blacklist_usernames" => (PasswdField::Name, "user_names"),
            "blacklist_userids" => (PasswdField::Uid, "user_ids"),
            "blacklist_groupids" => (PasswdField::Gid, "group_ids"),
            "blacklist_shells" => (PasswdField::Shell, "shells"),
            _ => (PasswdField::FullEntry, "entry"),
        };
        let values = if field == PasswdField::FullEntry {
            vec![params.get(key).cloned().unwrap_or_default()]
        } else {
            list(params.get(key))
        };
        Ok(Check::Deny { field, values })
    }

    fn run<'c>(check: &Check, ctx: &'c Ctx<'_>, out: &mut Outcome<'c>) {
        let Some(passwd) = ctx.input.passwd else {
            return out.missing("the analyser did not record /etc/passwd");
        };
        match check {
            Check::NotAvailable => {
                if passwd.is_none() {
                    out.fire("content_not_available", || {
                        "/etc/passwd file not present in image".into()
                    });
                }
            }
            Check::Deny { field, values } => {
                let Some(content) = passwd else {
                    return;
                };
                for (line, parts) in passwd_entries(content) {
                    let (hit, what) = match field {
                        PasswdField::FullEntry => (values.iter().any(|v| v == line), line),
                        f => {
                            let idx = match f {
                                PasswdField::Name => 0,
                                PasswdField::Uid => 2,
                                PasswdField::Gid => 3,
                                _ => 6,
                            };
                            let v = parts.get(idx).copied().unwrap_or("");
                            (values.iter().any(|x| x == v), v)
                        }
                    };
                    if hit {
                        out.fire(what.to_string(), || {
                            format!("Blacklisted {field:?} '{what}' found in image's /etc/passwd: {line}")
                        });
                    }
                }
            }
        }
    }
}

fn passwd_entries(content: &str) -> impl Iterator<Item = (&str, Vec<&str>)> {
    content
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| (l, l.split(':').collect()))
}
