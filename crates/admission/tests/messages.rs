//! The text people read: one denial clause per image naming every container running it, warnings summarised at
//! word boundaries within the API server's limits and de-duplicated, CVE ids next to GHSA ids, and a missing image
//! said to be missing.

mod common;

use std::collections::HashSet;

use common::*;
use portcullis_admission::decide::{MAX_WARNING_CHARS, MAX_WARNINGS, MAX_WARNINGS_TOTAL_CHARS};
use portcullis_admission::*;
use portcullis_policy::Action;
use portcullis_vuln::Severity;

fn cfg(mode: &str) -> Config {
    Config::parse(
        &format!("default: {{ mode: {mode}, policy: prod }}\n"),
        "test",
    )
    .unwrap()
}

/// The solo Pod fixture (014) with `containers` as (name, image).
fn pod(containers: &[(&str, &str)]) -> Review {
    let (_, bytes) = fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("014"))
        .unwrap();
    let mut raw: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let spec = &mut raw["request"]["object"]["spec"];
    spec["containers"] = containers
        .iter()
        .map(|(n, i)| serde_json::json!({"name": n, "image": i}))
        .collect();
    spec.as_object_mut().unwrap().remove("initContainers");
    Review::parse(&serde_json::to_vec(&raw).unwrap()).unwrap()
}

/// The fixture verdicts plus `noisy:1`, which has `n` WARN findings with long package names.
fn verdicts_with_noisy(n: usize) -> MemoryVerdicts {
    let mut file = fixture_verdicts("prod");
    let mut entry = file
        .images
        .iter()
        .find(|e| e.image == "nginx")
        .unwrap()
        .clone();
    entry.image = "noisy:1".into();
    entry.digest = Some(digest_for("noisy:1"));
    let ids: Vec<String> = (0..n)
        .map(|i| format!("CVE-2024-{:04}", 1000 + i))
        .collect();
    let rows = ids
        .iter()
        .map(|id| vuln_row(id, "libsomething-long-name", Action::Warn))
        .collect();
    entry.verdicts.insert("prod".into(), verdict("prod", rows));
    entry.findings = ids
        .iter()
        .map(|id| {
            finding(
                id,
                "libsomething-long-name",
                "1.2.3-4",
                Some("1.2.3-5"),
                Severity::Medium,
            )
        })
        .collect();
    file.images.push(entry);
    MemoryVerdicts::from_file(file, "test").unwrap()
}

#[test]
fn one_denial_clause_per_image_naming_every_container() {
    let v = MemoryVerdicts::from_file(fixture_verdicts("prod"), "test").unwrap();
    let r = pod(&[
        ("app", "busybox:1.36"),
        ("web", "nginx"),
        ("sidecar", "busybox:1.36"),
        ("bad", "UPPER/case:1"),
    ]);
    let d = decide(&r, &cfg("policy"), &v, &Context::new(Endpoint::Validate));
    assert!(!d.allowed);
    let m = d.message.as_deref().unwrap();
    assert!(
        m.starts_with("containers \"app\", \"sidecar\": image busybox:1.36 ("),
        "{m}"
    );
    assert_eq!(m.matches("failed policy").count(), 1, "{m}");
    assert!(m.contains("; container \"bad\": "), "{m}");
    assert!(!m.contains("\"web\""), "{m}");
    // Every image is still decided per container (audit annotations, metrics).
    assert_eq!(d.images.iter().filter(|i| i.denies).count(), 3);
}

#[test]
fn warnings_are_summarised_at_word_boundaries_and_deduplicated() {
    let v = verdicts_with_noisy(30);
    let r = pod(&[("a", "noisy:1"), ("b", "noisy:1"), ("c", "noisy:1")]);
    for mode in ["policy", "audit"] {
        let d = decide(&r, &cfg(mode), &v, &Context::new(Endpoint::Validate));
        assert!(d.allowed, "{mode}: {:?}", d.message);
        // The same image in three containers: one warning.
        assert_eq!(d.warnings.len(), 1, "{mode}: {:?}", d.warnings);
        let w = &d.warnings[0];
        assert!(w.chars().count() <= MAX_WARNING_CHARS, "{w}");
        assert!(
            w.starts_with("noisy:1: WARN vulnerabilities.package CVE-2024-1000 "),
            "{w}"
        );
        // Whole items only, then how many were left out.
        let (listed, tail) = w.rsplit_once(", … and ").expect("a summary tail");
        let more: usize = tail
            .strip_suffix(" more findings")
            .unwrap_or_else(|| panic!("{w}"))
            .parse()
            .unwrap();
        let items: Vec<&str> = listed.split(", ").collect();
        assert_eq!(items.len() + more, 30, "{w}");
        for item in &items {
            assert!(
                item.ends_with("(fixed in 1.2.3-5)"),
                "cut mid-item: {item:?} in {w}"
            );
        }
    }
    // Few enough to fit: listed whole, no tail.
    let v = verdicts_with_noisy(2);
    let d = decide(
        &pod(&[("a", "noisy:1")]),
        &cfg("audit"),
        &v,
        &Context::new(Endpoint::Validate),
    );
    assert_eq!(d.warnings.len(), 1);
    assert!(!d.warnings[0].contains('…'), "{}", d.warnings[0]);
    assert!(d.warnings[0].contains("CVE-2024-1001"), "{}", d.warnings[0]);
}

#[test]
fn would_be_denied_warnings_list_whole_rules() {
    let v = MemoryVerdicts::from_file(fixture_verdicts("prod"), "test").unwrap();
    let d = decide(
        &pod(&[("app", "busybox:1.36"), ("again", "busybox:1.36")]),
        &cfg("audit"),
        &v,
        &Context::new(Endpoint::Validate),
    );
    assert!(d.allowed);
    let wd: Vec<&String> = d
        .warnings
        .iter()
        .filter(|w| w.starts_with("would be denied: "))
        .collect();
    assert_eq!(wd.len(), 1, "{:?}", d.warnings);
    let w = wd[0];
    assert!(w.chars().count() <= MAX_WARNING_CHARS, "{w}");
    let (_, rules) = w.split_once("failed policy \"prod\": ").unwrap();
    let (listed, tail) = rules.rsplit_once(", … and ").unwrap_or((rules, ""));
    for item in listed.split(", ") {
        assert!(item.ends_with(')'), "cut mid-rule: {item:?} in {w}");
    }
    if !tail.is_empty() {
        assert!(tail.ends_with(" more rules"), "{w}");
    }
}

#[test]
fn warning_list_fits_the_api_servers_limits() {
    let long = "word ".repeat(100);
    let mut input: Vec<String> = (0..40).map(|i| format!("warning {i}: {long}")).collect();
    input.push("warning 0: ".to_string() + &long); // a duplicate
    input.push("line one\nline two".into()); // the API server drops warnings with control characters
    let out = decide::fit_warnings(input);
    assert!(out.len() <= MAX_WARNINGS, "{}", out.len());
    let total: usize = out.iter().map(|w| w.chars().count()).sum();
    assert!(total <= MAX_WARNINGS_TOTAL_CHARS, "{total}");
    let unique: HashSet<&String> = out.iter().collect();
    assert_eq!(unique.len(), out.len(), "{out:?}");
    for w in &out {
        assert!(w.chars().count() <= MAX_WARNING_CHARS, "{w}");
        assert!(!w.chars().any(char::is_control), "{w:?}");
        assert!(w.ends_with("word …") || w.ends_with("more warnings"), "{w}");
    }
    let last = out.last().unwrap();
    assert!(
        last.starts_with("… ") && last.ends_with(" more warnings"),
        "{last}"
    );
    let few = decide::fit_warnings(vec!["a\tb".into(), "a b".into(), "c".into()]);
    assert_eq!(few, vec!["a b".to_string(), "c".to_string()]);
}

#[test]
fn cve_ids_are_shown_next_to_ghsa_ids() {
    let mut file = fixture_verdicts("prod");
    let e = file
        .images
        .iter_mut()
        .find(|e| e.image == "busybox:1.36")
        .unwrap();
    e.verdicts.insert(
        "prod".into(),
        verdict(
            "prod",
            vec![
                vuln_row("GHSA-jfh8-c2jp-5v3q", "log4j-core", Action::Stop),
                vuln_row("RUSTSEC-2024-0001", "some-crate", Action::Stop),
            ],
        ),
    );
    let mut ghsa = finding(
        "GHSA-jfh8-c2jp-5v3q",
        "log4j-core",
        "2.14.1",
        Some("2.15.0"),
        Severity::Critical,
    );
    ghsa.aliases = vec!["CVE-2021-44228".into()];
    let rustsec = finding(
        "RUSTSEC-2024-0001",
        "some-crate",
        "0.1.0",
        None,
        Severity::High,
    );
    e.findings = vec![ghsa, rustsec];
    let v = MemoryVerdicts::from_file(file, "test").unwrap();
    let d = decide(
        &pod(&[("app", "busybox:1.36")]),
        &cfg("policy"),
        &v,
        &Context::new(Endpoint::Validate),
    );
    let m = d.message.unwrap();
    assert!(
        m.contains("GHSA-jfh8-c2jp-5v3q (CVE-2021-44228) log4j-core 2.14.1 (fixed in 2.15.0)"),
        "{m}"
    );
    // No CVE alias: the id alone.
    assert!(
        m.contains("RUSTSEC-2024-0001 some-crate 0.1.0 (no fix available)"),
        "{m}"
    );
}

#[test]
fn a_missing_image_is_said_to_be_missing_and_not_queued() {
    let missing: HashSet<String> = ["127.0.0.1:5000/shop/gone:9".to_string()].into();
    for (mode, allowed) in [("policy", false), ("analysis", false), ("audit", true)] {
        let v = MemoryVerdicts::new();
        let ctx = Context {
            missing: Some(&missing),
            ..Context::new(Endpoint::Validate)
        };
        let d = decide(
            &pod(&[
                ("app", "127.0.0.1:5000/shop/gone:9"),
                ("other", "127.0.0.1:5000/shop/unknown:1"),
            ]),
            &cfg(mode),
            &v,
            &ctx,
        );
        assert_eq!(d.allowed, allowed, "{mode}");
        assert_eq!(d.images[0].outcome, Outcome::NotFound, "{mode}");
        let text = d.images[0].explanation.clone().unwrap();
        assert_eq!(
            text,
            "image 127.0.0.1:5000/shop/gone:9 not found in the registry (127.0.0.1:5000 has no tag \"9\" in \
             repository shop/gone); check the image name and tag"
        );
        assert!(!text.contains("queued"), "{text}");
        // Only the image that exists is queued.
        assert_eq!(v.queued().len(), 1, "{mode}: {:?}", v.queued());
        assert!(v.queued()[0].contains("unknown"), "{:?}", v.queued());
        if !allowed {
            let m = d.message.unwrap();
            assert!(
                m.starts_with(
                    "container \"app\": image 127.0.0.1:5000/shop/gone:9 not found in the registry"
                ),
                "{m}"
            );
            assert!(m.contains("container \"other\": image 127.0.0.1:5000/shop/unknown:1 is not analysed yet (queued for analysis)"), "{m}");
        } else {
            assert!(
                d.warnings
                    .iter()
                    .any(|w| w.contains("not found in the registry")),
                "{:?}",
                d.warnings
            );
        }
        assert_eq!(
            d.audit_annotations["images"].matches("=not-found").count(),
            1
        );
    }
}

/// A denial names the bundle's readable name next to the id the configuration selects (issue #14 item 6).
#[test]
fn a_denial_names_the_bundles_readable_name() {
    let mut file = fixture_verdicts("prod");
    for e in &mut file.images {
        for v in e.verdicts.values_mut() {
            v.bundle_name = Some("Production images".into());
        }
    }
    let v = MemoryVerdicts::from_file(file, "test").unwrap();
    let d = decide(
        &pod(&[("app", "busybox:1.36")]),
        &cfg("policy"),
        &v,
        &Context::new(Endpoint::Validate),
    );
    let m = d.message.as_deref().unwrap();
    assert!(
        m.contains("failed policy \"prod\" (\"Production images\"): STOP"),
        "{m}"
    );
}
