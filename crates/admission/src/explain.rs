//! The text of decisions: denial messages naming image, digest, policy and the most severe failing rules, and
//! warnings cut to what the API server shows.

use portcullis_policy::{Action, EvalRow, Verdict};
use portcullis_vuln::Finding;

use crate::decide::MAX_RULES_IN_MESSAGE;

/// `s` cut to `max` characters, ending in `…` when cut.
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The finding a vulnerability row (`CVE+package`) is about.
pub(crate) fn severity_of<'f>(
    row_trigger_id: &str,
    findings: &'f [Finding],
) -> Option<&'f Finding> {
    let (cve, pkg) = row_trigger_id.split_once('+')?;
    findings
        .iter()
        .find(|f| f.id == cve && f.package_name == pkg)
}

/// `STOP vulnerabilities.package CVE-2023-0286 openssl 3.0.7-1 (fixed in 3.0.8-1)`, prefixed by the row's
/// platform (`linux/arm64: STOP …`) for a multi-platform image.
pub(crate) fn describe_row(row: &EvalRow, findings: &[Finding]) -> String {
    let action = match row.gate_action {
        Action::Go => "GO",
        Action::Warn => "WARN",
        Action::Stop => "STOP",
    };
    let detail = match severity_of(&row.trigger_id, findings) {
        Some(f) => {
            let fix = match &f.fixed_in {
                Some(v) => format!("(fixed in {v})"),
                None => "(no fix available)".to_string(),
            };
            format!("{} {} {} {fix}", f.id, f.package_name, f.package_version)
        }
        None if !row.check_output.is_empty() => truncate_chars(&row.check_output, 100),
        None => row.trigger_id.clone(),
    };
    let platform = row
        .platform
        .as_deref()
        .map(|p| format!("{p}: "))
        .unwrap_or_default();
    format!("{platform}{action} {}.{} {detail}", row.gate, row.trigger)
}

/// Rows with `action`, not allowlisted, ordered by finding severity (most severe first).
pub(crate) fn rows_with<'a>(
    verdict: &'a Verdict,
    findings: &[Finding],
    action: Action,
) -> Vec<&'a EvalRow> {
    let mut rows: Vec<_> = verdict
        .rows
        .iter()
        .filter(|r| r.gate_action == action && r.whitelisted.is_none())
        .collect();
    rows.sort_by_key(|r| {
        std::cmp::Reverse(severity_of(&r.trigger_id, findings).map(|f| f.severity))
    });
    rows
}

/// The denial text of an image that failed its policy.
pub(crate) fn failed_message(
    shown: &str,
    digest: &str,
    policy: &str,
    verdict: &Verdict,
    findings: &[Finding],
) -> String {
    let rows = rows_with(verdict, findings, Action::Stop);
    let mut parts: Vec<String> = rows
        .iter()
        .take(MAX_RULES_IN_MESSAGE)
        .map(|r| describe_row(r, findings))
        .collect();
    if parts.is_empty() {
        parts.push(format!("final action STOP ({:?})", verdict.final_reason).to_lowercase());
    }
    let more = rows.len().saturating_sub(MAX_RULES_IN_MESSAGE);
    let mut msg = format!(
        "image {shown} ({digest}) failed policy \"{policy}\": {}",
        parts.join(", ")
    );
    if more > 0 {
        msg.push_str(&format!(" [+{more} more]"));
    }
    msg
}

/// The image without its digest (warnings are short: name and tag).
pub(crate) fn short_image(image: &str) -> &str {
    // Warnings are short: drop a digest, keep name and tag.
    image.split('@').next().unwrap_or(image)
}
