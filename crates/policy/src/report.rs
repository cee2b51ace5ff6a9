//! Rendering verdicts as Anchore's evaluation table (text and JSON) and problems as lines.

use serde_json::{Value, json};

use crate::{Action, EvalRow, FinalReason, Problem, Verdict};

/// Anchore's table columns, in order.
pub const HEADER: [&str; 9] = [
    "Image_Id",
    "Repo_Tag",
    "Trigger_Id",
    "Gate",
    "Trigger",
    "Check_Output",
    "Gate_Action",
    "Whitelisted",
    "Policy_Id",
];

/// One problem per line, indented.
pub fn problem_lines(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Anchore's upper-case action name.
pub fn action_name(a: Action) -> &'static str {
    match a {
        Action::Go => "GO",
        Action::Warn => "WARN",
        Action::Stop => "STOP",
    }
}

/// The reason name Anchore prints.
pub fn reason_name(r: FinalReason) -> &'static str {
    match r {
        FinalReason::PolicyEvaluation => "policy_evaluation",
        FinalReason::Whitelisted => "whitelisted",
        FinalReason::Blacklisted => "blacklisted",
    }
}

fn whitelisted_json(r: &EvalRow) -> Value {
    match &r.whitelisted {
        None => Value::Bool(false),
        Some(id) => json!({
            "whitelist_name": r.whitelist_name,
            "whitelist_id": id,
            "matched_rule_id": r.whitelist_item_id,
        }),
    }
}

fn row_cells(r: &EvalRow) -> [String; 9] {
    [
        r.image_id.clone(),
        r.repo_tag.clone(),
        r.trigger_id.clone(),
        r.gate.clone(),
        r.trigger.clone(),
        r.check_output.clone(),
        action_name(r.gate_action).to_string(),
        match &r.whitelisted {
            None => "false".to_string(),
            Some(id) => match &r.whitelist_name {
                Some(n) => format!("{n} ({id})"),
                None => id.clone(),
            },
        },
        r.policy_id.clone(),
    ]
}

/// The verdict as Anchore's table JSON (`{image_id: {result: {header, rows, row_count, final_action}}}`)
/// plus the final action, reason and the triggers that could not be evaluated.
pub fn to_json(v: &Verdict) -> Value {
    let rows: Vec<Value> = v
        .rows
        .iter()
        .map(|r| {
            let c = row_cells(r);
            json!([
                c[0],
                c[1],
                c[2],
                c[3],
                c[4],
                c[5],
                c[6],
                whitelisted_json(r),
                c[8]
            ])
        })
        .collect();
    json!({
        v.image_id.clone(): {
            "result": {
                "header": HEADER,
                "row_count": rows.len(),
                "rows": rows,
                "final_action": action_name(v.policy_final_action),
            }
        },
        "bundle_id": v.bundle_id,
        "bundle_digest": v.bundle_digest,
        "tag": v.tag,
        "mapping": v.mapping,
        "policy_ids": v.policy_ids,
        "final_action": action_name(v.final_action),
        "final_action_reason": reason_name(v.final_reason),
        "status": if v.passed() { "pass" } else { "fail" },
        "matched_whitelisted_image_rule": v.matched_whitelisted_image,
        "matched_blacklisted_image_rule": v.matched_blacklisted_image,
        "not_evaluated": v.not_evaluated,
        "warnings": v.warnings,
    })
}

/// The verdict as text: a summary, and with `detail` the evaluation table and what was not evaluated.
pub fn to_text(v: &Verdict, detail: bool) -> String {
    let mut out = String::new();
    out.push_str(&format!("Image Digest: {}\n", v.image_id));
    out.push_str(&format!("Full Tag: {}\n", v.tag));
    out.push_str(&format!(
        "Status: {}\n",
        if v.passed() { "pass" } else { "fail" }
    ));
    out.push_str(&format!(
        "Last Eval: policy bundle {} ({})\n",
        v.bundle_id, v.bundle_digest
    ));
    out.push_str(&format!("Policy ID: {}\n", v.policy_ids.join(", ")));
    out.push_str(&format!("Final Action: {}\n", action_name(v.final_action)));
    out.push_str(&format!(
        "Final Action Reason: {}\n",
        reason_name(v.final_reason)
    ));
    if !detail {
        return out;
    }
    out.push('\n');
    let cells: Vec<[String; 9]> = v.rows.iter().map(row_cells).collect();
    let mut widths: Vec<usize> = HEADER.iter().map(|h| h.len()).collect();
    for c in &cells {
        for (w, s) in widths.iter_mut().zip(c.iter()) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |cols: Vec<&str>| -> String {
        let mut l = cols
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        l.truncate(l.trim_end().len());
        l.push('\n');
        l
    };
    out.push_str(&line(HEADER.to_vec()));
    for c in &cells {
        out.push_str(&line(c.iter().map(String::as_str).collect()));
    }
    if !v.not_evaluated.is_empty() {
        out.push_str("\nNot evaluated:\n");
        for n in &v.not_evaluated {
            out.push_str(&format!("  - {n}\n"));
        }
    }
    for w in &v.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}
