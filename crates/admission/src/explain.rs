//! The text of decisions: denial messages naming image, digest, policy and the most severe failing rules, and
//! warnings summarised (at word boundaries) to what the API server shows.

use portcullis_policy::{Action, EvalRow, Verdict};
use portcullis_vuln::Finding;

use crate::decide::MAX_RULES_IN_MESSAGE;

/// `s` within `max` characters: cut at the last word boundary that fits, ending in ` …` when cut (an unbroken
/// token longer than the limit, such as a digest, is cut inside it).
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let budget = max.saturating_sub(2);
    let head: String = s.chars().take(budget + 1).collect();
    let word_end = head
        .char_indices()
        .filter(|(_, c)| c.is_whitespace())
        .map(|(i, _)| i)
        .next_back()
        .filter(|&i| i > 0);
    let cut = match word_end {
        Some(i) => head[..i].trim_end_matches([',', ';', ':']).to_string(),
        None => head.chars().take(budget).collect(),
    };
    format!("{cut} …")
}

/// `head` followed by as many of `items` (joined by `, `) as fit in `max` characters, then
/// `, … and N more {noun}` for the rest: a summary that never cuts an item mid-word. When not even one item
/// fits, the head alone is cut at a word boundary.
pub(crate) fn summarise(head: &str, items: &[String], noun: &str, max: usize) -> String {
    let tail = |rest: usize| {
        if rest == 0 {
            String::new()
        } else {
            format!(", … and {rest} more {noun}")
        }
    };
    let mut body = String::new();
    let mut shown = 0;
    for (i, item) in items.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let candidate = format!("{body}{sep}{item}");
        let len = head.chars().count()
            + candidate.chars().count()
            + tail(items.len() - i - 1).chars().count();
        if len > max {
            break;
        }
        body = candidate;
        shown = i + 1;
    }
    if shown == 0 {
        let first = items.first().map(String::as_str).unwrap_or_default();
        let rest = tail(items.len().saturating_sub(1));
        let room = max.saturating_sub(rest.chars().count());
        return format!("{}{rest}", truncate_chars(&format!("{head}{first}"), room));
    }
    format!("{head}{body}{}", tail(items.len() - shown))
}

/// A finding's id as shown to people: the CVE ids of a GHSA/RUSTSEC/PYSEC/… finding follow it
/// (`GHSA-xxxx (CVE-2023-1234)`), at most two of them.
pub(crate) fn shown_id(f: &Finding) -> String {
    if f.id.starts_with("CVE-") {
        return f.id.clone();
    }
    let cves: Vec<&str> = f
        .aliases
        .iter()
        .map(String::as_str)
        .filter(|a| a.starts_with("CVE-") && *a != f.id)
        .take(2)
        .collect();
    if cves.is_empty() {
        f.id.clone()
    } else {
        format!("{} ({})", f.id, cves.join(", "))
    }
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
            format!(
                "{} {} {} {fix}",
                shown_id(f),
                f.package_name,
                f.package_version
            )
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

/// An image that failed its policy, in parts: the head (`image … failed policy "p" ("Readable name"): `) and every STOP rule
/// (most severe first), for a denial that lists a few and a warning that fits as many as the limit allows.
pub(crate) fn failed_parts(
    shown: &str,
    digest: &str,
    policy: &str,
    verdict: &Verdict,
    findings: &[Finding],
) -> (String, Vec<String>) {
    let mut items: Vec<String> = rows_with(verdict, findings, Action::Stop)
        .iter()
        .map(|r| describe_row(r, findings))
        .collect();
    if items.is_empty() {
        items.push(format!("final action STOP ({:?})", verdict.final_reason).to_lowercase());
    }
    // The bundle's readable name, when it has one that says more than the id the configuration names.
    let name = match verdict.bundle_name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() && n != policy => format!(" ({n:?})"),
        _ => String::new(),
    };
    (
        format!("image {shown} ({digest}) failed policy \"{policy}\"{name}: "),
        items,
    )
}

/// The denial text of an image that failed its policy: its most severe rules, then how many more.
pub(crate) fn failed_message(head: &str, items: &[String]) -> String {
    let mut msg = format!(
        "{head}{}",
        items
            .iter()
            .take(MAX_RULES_IN_MESSAGE)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    let more = items.len().saturating_sub(MAX_RULES_IN_MESSAGE);
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
