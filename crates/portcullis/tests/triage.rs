//! Issue #15 items 5 and 6 through the real binary: `portcullis scan --ignore-file / --vex` on a real database
//! (GHSA, PyPA and NVD records of `../shared/vulndata`) and an SBOM of requests 2.30.0 and urllib3 1.26.16.
//! The OpenVEX and CycloneDX VEX documents and the rules file are hand-written fixtures
//! (`tests/fixtures/triage`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{BIN, shared};
use portcullis_sbom::{PackageType, Sbom};
use portcullis_testkit::package;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/triage")
        .join(name)
}

struct Env {
    _dir: tempfile::TempDir,
    db: PathBuf,
    sbom: PathBuf,
    dir: PathBuf,
}

fn setup() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vuln.db");
    let data = shared().join("vulndata");
    let sources: Vec<PathBuf> = [
        "osv/ghsa/advisories/github-reviewed/2023/05/GHSA-j8r2-6x86-q33q",
        "osv/ghsa/advisories/github-reviewed/2023/10/GHSA-v845-jxx5-vc9f",
        "pypa/vulns/requests/PYSEC-2023-74.yaml",
        "pypa/vulns/urllib3/PYSEC-2023-192.yaml",
        "nvd/vuln-list-nvd/api/2023/CVE-2023-32681.json",
        "nvd/vuln-list-nvd/api/2023/CVE-2023-43804.json",
    ]
    .iter()
    .map(|r| data.join(r))
    .collect();
    for s in &sources {
        assert!(s.exists(), "{} missing", s.display());
    }
    let out = Command::new(BIN)
        .args(["db", "import", "--db"])
        .arg(&db)
        .args(&sources)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sbom = Sbom {
        schema_version: "1".into(),
        source: "app".into(),
        packages: vec![
            package(PackageType::Python, "requests", "2.30.0")
                .purl("pkg:pypi/requests@2.30.0")
                .location("/app/site-packages/requests-2.30.0.dist-info/METADATA")
                .build(),
            package(PackageType::Python, "urllib3", "1.26.16")
                .purl("pkg:pypi/urllib3@1.26.16")
                .location("/app/site-packages/urllib3-1.26.16.dist-info/METADATA")
                .build(),
        ],
        ..Default::default()
    };
    let path = dir.path().join("sbom.json");
    std::fs::write(&path, serde_json::to_vec(&sbom).unwrap()).unwrap();
    Env {
        db,
        sbom: path,
        dir: dir.path().to_path_buf(),
        _dir: dir,
    }
}

/// Runs `scan --sbom … --db …` with `args`: (exit code, stdout, stderr).
fn scan(env: &Env, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("scan")
        .arg("--sbom")
        .arg(&env.sbom)
        .arg("--db")
        .arg(&env.db)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ids(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["id"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn aliases_are_one_finding_and_counted_once() {
    let env = setup();
    let (code, out, err) = scan(&env, &["-o", "json", "--fail-on", "medium"]);
    assert_eq!(code, 1, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(ids(&v, "findings"), ["CVE-2023-43804", "CVE-2023-32681"]);
    let (code, out, _) = scan(&env, &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("CVE-2023-32681 (GHSA-j8r2-6x86-q33q, PYSEC-2023-74)"),
        "{out}"
    );
    assert!(out.contains("2 findings"), "{out}");
}

#[test]
fn ignore_rules_suppress_and_expired_rules_warn() {
    let env = setup();
    let rules = fixture("rules.yaml");
    let rules = rules.to_str().unwrap();
    let (code, out, err) = scan(
        &env,
        &["-o", "json", "--fail-on", "medium", "--ignore-file", rules],
    );
    // the urllib3 rule expired on 2024-01-31: urllib3's finding still fails the gate
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("rule 1 (CVE-2023-43804): expired on 2024-01-31"),
        "{err}"
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(ids(&v, "findings"), ["CVE-2023-43804"]);
    assert_eq!(ids(&v, "suppressed"), ["CVE-2023-32681"]);
    let s = &v["suppressed"][0]["suppressed"];
    assert_eq!(s["by"], "ignore-rule");
    assert_eq!(
        s["reason"],
        "the service never sends requests through a proxy"
    );
    assert!(
        s["source"].as_str().unwrap().ends_with("rules.yaml rule 0"),
        "{s}"
    );
    assert!(
        v["triage_warnings"][0]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    // a live rule for urllib3 too: nothing left to fail the gate, both shown as suppressed
    let both = env.dir.join("both.json");
    std::fs::write(
        &both,
        r#"[{"vulnerability": "CVE-2023-32681", "reason": "no proxies"},
            {"package": {"name": "urllib3", "version": "1.26.16", "type": "python"}, "fix-state": "fixed",
             "reason": "upgrade scheduled", "expires": "2099-01-01"}]"#,
    )
    .unwrap();
    let (code, out, err) = scan(
        &env,
        &["--fail-on", "low", "--ignore-file", both.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("No vulnerabilities found"), "{out}");
    assert!(out.contains("SUPPRESSED (2;"), "{out}");
    assert!(
        out.contains("ignore-rule") && out.contains("upgrade scheduled"),
        "{out}"
    );

    // a malformed file: which file, which rule, which field, what to do
    let bad = env.dir.join("bad.yaml");
    std::fs::write(&bad, "rules:\n  - vulnerability: CVE-2023-32681\n    reason: ok\n  - vulnerability: CVE-1\n    expires: 2027-13-01\n    reason: x\n").unwrap();
    let (code, _, err) = scan(&env, &["--ignore-file", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bad.yaml")
            && err.contains("rule 1")
            && err.contains("`expires`")
            && err.contains("YYYY-MM-DD"),
        "{err}"
    );
}

#[test]
fn vex_documents_suppress_and_annotate() {
    let env = setup();
    let openvex = fixture("requests.openvex.json");
    let cdx = fixture("urllib3.cdx.vex.json");
    let (code, out, err) = scan(
        &env,
        &[
            "-o",
            "json",
            "--fail-on",
            "medium",
            "--vex",
            openvex.to_str().unwrap(),
            "--vex",
            cdx.to_str().unwrap(),
        ],
    );
    // urllib3 is `exploitable` per the CycloneDX VEX (the OpenVEX statement names 1.26.15, not the installed 1.26.16)
    assert_eq!(code, 1, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(ids(&v, "findings"), ["CVE-2023-43804"]);
    assert_eq!(v["findings"][0]["vex"]["status"], "affected");
    assert!(
        v["findings"][0]["vex"]["detail"]
            .as_str()
            .unwrap()
            .contains("redirects")
    );
    assert_eq!(ids(&v, "suppressed"), ["CVE-2023-32681"]);
    let s = &v["suppressed"][0]["suppressed"];
    assert_eq!(s["by"], "vex");
    assert!(
        s["reason"]
            .as_str()
            .unwrap()
            .starts_with("not_affected: vulnerable_code_not_in_execute_path"),
        "{s}"
    );

    let (code, out, err) = scan(
        &env,
        &["--fail-on", "critical", "--vex", openvex.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("SUPPRESSED (1;") && out.contains("vex"),
        "{out}"
    );

    let not_vex = env.dir.join("not-vex.json");
    std::fs::write(&not_vex, r#"{"hello": "world"}"#).unwrap();
    let (code, _, err) = scan(&env, &["--vex", not_vex.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("not-vex.json") && err.contains("not a VEX document"),
        "{err}"
    );
}
