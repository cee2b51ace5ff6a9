//! The optimised allowlist and mapping paths (indexed exact trigger ids, literal-part wildcard matching,
//! per-finding memo) checked against a straightforward reference on many generated bundles and images: a
//! linear scan over the bundle document, wildcards translated to regexes as the original loader did.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{bundle, finding, now, pkg};
use portcullis_policy::{Action, Bundle, EvalOptions, ImageInput, Verdict};
use portcullis_sbom::{PackageType, Sbom};
use portcullis_vuln::{MatchReport, Severity};
use regex::Regex;

/// A small deterministic generator (xorshift64*), so a failure reproduces from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

/// Anchore's pattern semantics the obvious way: `regexp:` anchored at the start, else `*` → `.*`, anchored.
fn reference_match(pattern: &str, s: &str) -> bool {
    let re = match pattern.strip_prefix("regexp:") {
        Some(re) => format!("^(?:{re})"),
        None => {
            let parts: Vec<String> = pattern.split('*').map(regex::escape).collect();
            format!("^{}$", parts.join(".*"))
        }
    };
    Regex::new(&re)
        .unwrap_or_else(|e| panic!("reference pattern {pattern}: {e}"))
        .is_match(s)
}

fn is_keyed(trigger_id: &str) -> bool {
    !trigger_id.contains('*') && !trigger_id.starts_with("regexp:")
}

/// The first live allowlist item for `gate`/`trigger_id`: allowlists in mapping order; within one, exact
/// trigger ids before patterns (anchore-engine's keyed-then-unkeyed order), each in document order.
fn reference_allowlist(
    b: &Bundle,
    allowlist_ids: &[String],
    gate: &str,
    trigger_id: &str,
    now: DateTime<Utc>,
) -> Option<(String, String)> {
    for wid in allowlist_ids {
        let wl = b
            .doc
            .whitelists
            .iter()
            .find(|w| w.id.as_deref() == Some(wid.as_str()))
            .expect("mapped allowlist exists");
        let live = |e: &Option<String>| match e.as_deref() {
            None | Some("") => true,
            Some(t) => now < DateTime::parse_from_rfc3339(t).expect("valid expires_on"),
        };
        let candidates = wl
            .items
            .iter()
            .filter(|i| i.gate.eq_ignore_ascii_case(gate) && live(&i.expires_on));
        let keyed = candidates
            .clone()
            .find(|i| is_keyed(&i.trigger_id) && i.trigger_id == trigger_id);
        let hit = keyed.or_else(|| {
            candidates
                .clone()
                .find(|i| !is_keyed(&i.trigger_id) && reference_match(&i.trigger_id, trigger_id))
        });
        if let Some(i) = hit {
            return Some((wid.clone(), i.id.clone().unwrap_or_default()));
        }
    }
    None
}

const GATES: &[&str] = &[
    "vulnerabilities",
    "VULNERABILITIES",
    "Vulnerabilities",
    "always",
    "licenses",
    "packages",
];

fn trigger_pattern(rng: &mut Rng) -> String {
    match rng.below(4) {
        // An exact id that exists in the image (or nearly: a package that does not).
        0 | 1 => format!("CVE-2023-{:04}+pkg{}", rng.below(30), rng.below(9)),
        2 => rng
            .pick(&["always", "pkg2+GPL-2.0", "pkg5+GPL-3.0", "pkg1+MIT"])
            .to_string(),
        _ => rng
            .pick(&[
                "*",
                "**",
                "CVE-2023-001*",
                "*+pkg3",
                "CVE-*+pkg*",
                "CVE-2023-*2+*",
                "*-00*+*",
                "*a*",
                "alw*",
                "pkg*+GPL*",
                "*GPL-2.0",
                "CVE-2023-0007+pkg*",
                "regexp:CVE-2023-00[0-1][0-9]\\+pkg1",
                "regexp:pkg[0-4]\\+",
                "regexp:.*7",
            ])
            .to_string(),
    }
}

fn expiry(rng: &mut Rng, now: DateTime<Utc>) -> String {
    match rng.below(4) {
        0 => format!(
            r#","expires_on":"{}""#,
            (now - Duration::days(1)).to_rfc3339()
        ),
        1 => format!(
            r#","expires_on":"{}""#,
            (now + Duration::days(1)).to_rfc3339()
        ),
        _ => String::new(),
    }
}

/// A bundle with vulnerability, license and `always` rules and three random allowlists, mapped in a
/// random order; returns it with the mapped allowlist ids.
fn random_bundle(rng: &mut Rng, now: DateTime<Utc>) -> (Bundle, Vec<String>) {
    let mut whitelists = Vec::new();
    for w in 0..3 {
        let items: Vec<String> = (0..rng.below(12))
            .map(|i| {
                format!(
                    r#"{{"id":"w{w}i{i}","gate":"{}","trigger_id":"{}"{}}}"#,
                    rng.pick(GATES),
                    trigger_pattern(rng).replace('\\', "\\\\"),
                    expiry(rng, now)
                )
            })
            .collect();
        whitelists.push(format!(
            r#"{{"id":"wl{w}","name":"List {w}","version":"1_0","items":[{}]}}"#,
            items.join(",")
        ));
    }
    let mut ids: Vec<String> = (0..3).map(|w| format!("wl{w}")).collect();
    for k in (1..ids.len()).rev() {
        ids.swap(k, rng.below(k + 1));
    }
    ids.truncate(1 + rng.below(3));
    let mapped: Vec<String> = ids.iter().map(|i| format!("\"{i}\"")).collect();
    let doc = format!(
        r#"{{"id":"ref","version":"1_0","policies":[{{"id":"p","version":"1_0","rules":[
          {{"id":"v-stop","gate":"vulnerabilities","trigger":"package","action":"STOP","params":[{{"name":"package_type","value":"all"}},{{"name":"severity_comparison","value":">="}},{{"name":"severity","value":"high"}}]}},
          {{"id":"v-warn","gate":"vulnerabilities","trigger":"package","action":"WARN","params":[{{"name":"package_type","value":"all"}},{{"name":"severity_comparison","value":">"}},{{"name":"severity","value":"unknown"}}]}},
          {{"id":"kev","gate":"vulnerabilities","trigger":"kev","action":"STOP","params":[]}},
          {{"id":"lic","gate":"licenses","trigger":"blacklist_partial_match","action":"WARN","params":[{{"name":"licenses","value":"GPL"}}]}},
          {{"id":"al","gate":"always","trigger":"always","action":"WARN","params":[]}}]}}],
        "whitelists":[{}],
        "mappings":[{{"registry":"*","repository":"*","image":{{"type":"tag","value":"*"}},"policy_id":"p","whitelist_ids":[{}]}}]}}"#,
        whitelists.join(","),
        mapped.join(",")
    );
    (bundle(&doc), ids)
}

fn random_image(rng: &mut Rng) -> (Sbom, MatchReport) {
    let mut sbom = common::sbom();
    sbom.packages = (0..9)
        .map(|i| {
            let mut p = pkg(&format!("pkg{i}"), "1.0", PackageType::Deb);
            p.licenses = vec![["MIT", "GPL-2.0", "GPL-3.0"][rng.below(3)].into()];
            p
        })
        .collect();
    let sev = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    let findings = (0..40)
        .map(|_| {
            let mut f = finding(
                &format!("CVE-2023-{:04}", rng.below(30)),
                &format!("pkg{}", rng.below(9)),
                sev[rng.below(4)],
                PackageType::Deb,
            );
            f.kev = rng.below(5) == 0;
            f
        })
        .collect();
    (
        sbom,
        MatchReport {
            findings,
            db_version: "ref".into(),
            ..Default::default()
        },
    )
}

fn rule_action(rule_id: &str) -> Action {
    match rule_id {
        "v-stop" | "kev" => Action::Stop,
        _ => Action::Warn,
    }
}

#[test]
fn allowlist_decisions_match_a_linear_scan() {
    let now = now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut rows, mut allowlisted, mut by_pattern) = (0usize, 0usize, 0usize);
    for round in 0..300 {
        let (b, mapped) = random_bundle(&mut rng, now);
        let (sbom, report) = random_image(&mut rng);
        let input = ImageInput::new(&sbom, &report, "quay.io/team/app:1.0", now);
        let v: Verdict = b.evaluate(&input);
        let mut worst = Action::Go;
        for r in &v.rows {
            let want = reference_allowlist(&b, &mapped, &r.gate, &r.trigger_id, now);
            let got = r.whitelisted.clone().zip(r.whitelist_item_id.clone());
            assert_eq!(
                got, want,
                "round {round}: row {} ({}) of rule {}; bundle {:?}",
                r.trigger_id, r.gate, r.rule_id, b.doc.whitelists
            );
            let action = if want.is_some() {
                Action::Go
            } else {
                rule_action(&r.rule_id)
            };
            assert_eq!(r.gate_action, action, "round {round}: {}", r.trigger_id);
            worst = worst.max(action);
            rows += 1;
            if let Some((wl, item)) = &want {
                allowlisted += 1;
                let doc_item = b
                    .doc
                    .whitelists
                    .iter()
                    .filter(|w| w.id.as_deref() == Some(wl))
                    .flat_map(|w| &w.items)
                    .find(|i| i.id.as_deref() == Some(item))
                    .expect("matched item exists");
                by_pattern += usize::from(!is_keyed(&doc_item.trigger_id));
            }
        }
        assert_eq!(v.final_action, worst, "round {round}");
        assert_eq!(
            b.decide(&input, &EvalOptions::default()).final_action,
            worst,
            "round {round}: decide"
        );
    }
    // The generated cases exercise every path: unmatched, exact and pattern matches.
    assert!(rows > 10_000, "{rows} rows");
    assert!(
        allowlisted > rows / 10 && allowlisted < rows * 9 / 10,
        "{allowlisted} of {rows} allowlisted"
    );
    assert!(
        by_pattern > allowlisted / 10 && by_pattern < allowlisted,
        "{by_pattern} of {allowlisted} by pattern"
    );
}

#[test]
fn mapping_choice_matches_a_linear_scan() {
    let now = now();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let registries = [
        "*",
        "quay.io",
        "*.io",
        "regexp:quay",
        "registry.*",
        "localhost:*",
        "*.*",
    ];
    let repos = [
        "*",
        "team/*",
        "*/app",
        "team/app",
        "regexp:team/a",
        "t*m/a*p",
        "other/*",
    ];
    let tags = ["*", "1.0", "v*", "regexp:v[0-9]+", "*rc", "latest", "v*-*"];
    let image_tags = [
        "quay.io/team/app:1.0",
        "quay.io/team/api:v2",
        "registry.example.com/other/app:v10-rc",
        "localhost:5000/team/app:latest",
        "localhost:5000/tom/amp:v3",
        "ghcr.io/x/app:rc",
    ];
    let (sbom, report) = (common::sbom(), common::report());
    let mut mapped = 0;
    for round in 0..300 {
        let maps: Vec<(String, String, String, String)> = (0..1 + rng.below(4))
            .map(|m| {
                (
                    format!("m{m}"),
                    rng.pick(&registries).to_string(),
                    rng.pick(&repos).to_string(),
                    rng.pick(&tags).to_string(),
                )
            })
            .collect();
        let docs: Vec<String> = maps
            .iter()
            .map(|(n, reg, repo, tag)| {
                format!(
                    r#"{{"name":"{n}","registry":"{reg}","repository":"{repo}","image":{{"type":"tag","value":"{tag}"}},"policy_id":"p"}}"#
                )
            })
            .collect();
        let b = bundle(&format!(
            r#"{{"id":"m","version":"1_0","policies":[{{"id":"p","version":"1_0","rules":[{{"id":"a","gate":"always","trigger":"always","action":"WARN","params":[]}}]}}],
            "whitelists":[],"mappings":[{}]}}"#,
            docs.join(",")
        ));
        for tag in image_tags {
            let (name, tag_part) = tag.rsplit_once(':').expect("tagged");
            let (registry, repo) = name.split_once('/').expect("registry/repo");
            let want = maps
                .iter()
                .find(|(_, reg, rp, t)| {
                    reference_match(reg, registry)
                        && reference_match(rp, repo)
                        && reference_match(t, tag_part)
                })
                .map(|m| m.0.clone());
            let v = b.evaluate(&ImageInput::new(&sbom, &report, tag, now));
            assert_eq!(v.mapping, want, "round {round}: {tag} against {maps:?}");
            assert_eq!(
                v.final_action,
                if want.is_some() {
                    Action::Warn
                } else {
                    Action::Go
                }
            );
            mapped += usize::from(want.is_some());
        }
    }
    assert!(mapped > 300 && mapped < 1500, "{mapped} of 1800 mapped");
}
