//! Gate `signature`: the image's cosign signatures and in-toto attestations, as verification recorded them
//! ([`portcullis_verify::SignatureFacts`], stored with the image by the engine; `ImageInput::signatures`).
//! Without a verification result every trigger reports that it was not evaluated.

use regex::Regex;

use super::common::list;
use super::{Ctx, Gate, Outcome, Params};
use crate::catalog::{GateSpec, Lifecycle, ParamType, TriggerSpec, gate_def, p, t};

/// The `signature` gate.
pub(crate) struct Signature;

/// A compiled `signature` rule.
#[derive(Debug)]
pub(crate) enum Check {
    /// `signature.unsigned`.
    Unsigned,
    /// `signature.untrusted_signer`: exact signers and/or an anchored regex.
    UntrustedSigner {
        signers: Vec<String>,
        re: Option<Regex>,
    },
    /// `signature.attestation_missing` for this type (cosign name or URI).
    AttestationMissing(String),
    /// `signature.provenance_mismatch`: anchored regexes on the provenance fields.
    ProvenanceMismatch {
        builder_id: Option<Regex>,
        source_repository: Option<Regex>,
        build_type: Option<Regex>,
    },
}

const PREDICATE_DOC: &str = "The attestation type: a cosign `--type` name (slsaprovenance, slsaprovenance1, \
    cyclonedx, spdx, spdxjson, openvex, vuln, custom) or a predicate type URI (prefix).";

impl Gate for Signature {
    type Check = Check;

    const SPEC: GateSpec = gate_def(
        "signature",
        "Checks the image's cosign signatures and in-toto attestations, as verified against the keys and \
         identities of the admission config's `verify` block.",
        Lifecycle::Active,
        &[
            t(
                "unsigned",
                "Triggers if no signature of the image verified (none found, all refused, or verification \
                 did not finish).",
                &[],
            ),
            t(
                "untrusted_signer",
                "Triggers if no verified signature is by one of the listed signers (key file or Secret as \
                 the verify block names it, or certificate identity); also when the image has no verified \
                 signature.",
                &[
                    p(
                        "signers",
                        ParamType::List,
                        false,
                        "Comma-separated list of trusted signers, compared exactly.",
                        "/etc/portcullis/keys/ci.pub",
                    ),
                    p(
                        "signer_regex",
                        ParamType::Regex,
                        false,
                        "Trusted signers, an anchored regular expression.",
                        "https://github.com/example/.*",
                    ),
                ],
            ),
            t(
                "attestation_missing",
                "Triggers if the image has no verified attestation of the given type.",
                &[p(
                    "predicate_type",
                    ParamType::Str,
                    true,
                    PREDICATE_DOC,
                    "slsaprovenance",
                )],
            ),
            t(
                "provenance_mismatch",
                "Triggers if no verified SLSA provenance attestation (v0.2 or v1) matches every given \
                 parameter (anchored regular expressions); also when there is none.",
                &[
                    p(
                        "builder_id",
                        ParamType::Regex,
                        false,
                        "The builder id must match.",
                        "https://github.com/slsa-framework/.*",
                    ),
                    p(
                        "source_repository",
                        ParamType::Regex,
                        false,
                        "The source repository must match.",
                        "git\\+https://github.com/example/app(@.*)?",
                    ),
                    p(
                        "build_type",
                        ParamType::Regex,
                        false,
                        "The build type must match.",
                        "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
                    ),
                ],
            ),
        ],
    );

    fn validate(trigger: &'static TriggerSpec, params: &Params) -> Result<(), String> {
        match trigger.name {
            "untrusted_signer" if list(params.get("signers")).is_empty()
                && !params.contains_key("signer_regex") =>
            {
                Err("give `signers`, `signer_regex` or both: with neither, no signer is trusted".into())
            }
            "attestation_missing" => {
                let v = params.get("predicate_type").map(|s| s.trim()).unwrap_or("");
                portcullis_verify::predicate_type_uri(v).map(|_| ()).ok_or_else(|| {
                    let names: Vec<&str> = portcullis_verify::PREDICATE_TYPES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect();
                    format!(
                        "parameter `predicate_type`: `{v}` is not one of {} nor a predicate type URI",
                        names.join(", ")
                    )
                })
            }
            "provenance_mismatch"
                if ["builder_id", "source_repository", "build_type"]
                    .iter()
                    .all(|k| !params.contains_key(*k)) =>
            {
                Err(
                    "give at least one of `builder_id`, `source_repository`, `build_type` to compare the \
                     provenance with"
                        .into(),
                )
            }
            _ => Ok(()),
        }
    }

    fn compile(trigger: &'static TriggerSpec, params: &Params) -> Result<Check, String> {
        let re = |k: &str| -> Result<Option<Regex>, String> {
            params
                .get(k)
                .map(|v| {
                    crate::pattern::user_regex(&format!("^(?:{v})$"))
                        .map_err(|e| format!("parameter `{k}` is not a valid regex (`{v}`): {e}"))
                })
                .transpose()
        };
        match trigger.name {
            "unsigned" => Ok(Check::Unsigned),
            "untrusted_signer" => Ok(Check::UntrustedSigner {
                signers: list(params.get("signers")),
                re: re("signer_regex")?,
            }),
            "attestation_missing" => Ok(Check::AttestationMissing(
                params
                    .get("predicate_type")
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default(),
            )),
            "provenance_mismatch" => Ok(Check::ProvenanceMismatch {
                builder_id: re("builder_id")?,
                source_repository: re("source_repository")?,
                build_type: re("build_type")?,
            }),
            other => Err(format!(
                "signature.{other} has no implementation in this build"
            )),
        }
    }

    fn run<'c>(check: &Check, ctx: &'c Ctx<'_>, out: &mut Outcome<'c>) {
        let Some(facts) = ctx.input.signatures else {
            return out.missing(
                "the image's signatures were not verified: add a `verify` block to the admission config \
                 selector that covers it",
            );
        };
        match check {
            Check::Unsigned => {
                if !facts.signed() {
                    out.fire("unsigned", || {
                        format!(
                            "Image is not signed by a trusted key ({})",
                            facts.why_unsigned()
                        )
                    });
                }
            }
            Check::UntrustedSigner { signers, re } => {
                let trusted = |s: &str| {
                    signers.iter().any(|t| t == s) || re.as_ref().is_some_and(|r| r.is_match(s))
                };
                if facts.error.is_none() && facts.verified_signers().any(trusted) {
                    return;
                }
                out.fire("untrusted_signer", || {
                    let seen: Vec<&str> = facts.verified_signers().collect();
                    if seen.is_empty() || facts.error.is_some() {
                        format!(
                            "Image has no verified signature by a trusted signer ({})",
                            facts.why_unsigned()
                        )
                    } else {
                        format!(
                            "Image is signed only by signers the policy does not trust: {}",
                            seen.join(", ")
                        )
                    }
                });
            }
            Check::AttestationMissing(wanted) => {
                if facts.error.is_some() || facts.verified_attestations(wanted).next().is_none() {
                    out.fire(wanted.clone(), || {
                        let refused = facts
                            .attestations
                            .iter()
                            .filter(|a| {
                                !a.verified
                                    && portcullis_verify::predicate_matches(&a.predicate_type, wanted)
                            })
                            .count();
                        match &facts.error {
                            Some(e) => format!(
                                "No verified {wanted} attestation: verification did not finish: {e}"
                            ),
                            None if refused > 0 => format!(
                                "No verified {wanted} attestation ({refused} found, all refused: {})",
                                facts
                                    .attestations
                                    .iter()
                                    .find(|a| !a.verified)
                                    .map(|a| a.reason.as_str())
                                    .unwrap_or("")
                            ),
                            None => format!("No {wanted} attestation found"),
                        }
                    });
                }
            }
            Check::ProvenanceMismatch {
                builder_id,
                source_repository,
                build_type,
            } => {
                let field_ok = |re: &Option<Regex>, v: &Option<String>| match re {
                    None => true,
                    Some(re) => v.as_deref().is_some_and(|v| re.is_match(v)),
                };
                let provenances: Vec<_> = ["slsaprovenance", "slsaprovenance1"]
                    .iter()
                    .flat_map(|t| facts.verified_attestations(t))
                    .filter_map(|a| a.provenance.as_ref())
                    .collect();
                let matched = facts.error.is_none()
                    && provenances.iter().any(|p| {
                        field_ok(builder_id, &p.builder_id)
                            && field_ok(source_repository, &p.source_repository)
                            && field_ok(build_type, &p.build_type)
                    });
                if !matched {
                    out.fire("provenance_mismatch", || match provenances.first() {
                        None => "No verified SLSA provenance attestation to compare".into(),
                        Some(p) => format!(
                            "SLSA provenance does not match the policy: builder {}, source {}, build type {}",
                            p.builder_id.as_deref().unwrap_or("(none)"),
                            p.source_repository.as_deref().unwrap_or("(none)"),
                            p.build_type.as_deref().unwrap_or("(none)")
                        ),
                    });
                }
            }
        }
    }
}
