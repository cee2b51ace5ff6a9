//! `portcullis admit` through the real binary: the captured reviews and plain manifests decided offline,
//! `-o json` byte-for-byte what `/validate` sends, exit codes 0 admitted / 1 denied / 2 error.

mod common;
#[path = "../../admission/tests/common/mod.rs"]
mod verdict_fixtures;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{BIN, cli, fixture};
use portcullis_admission::{Config, Context, Endpoint, MemoryVerdicts, Review, decide};
use verdict_fixtures::fixture_verdicts;

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("verdicts.json"),
            serde_json::to_vec(&fixture_verdicts("prod")).unwrap(),
        )
        .unwrap();
        for mode in ["policy", "passive"] {
            std::fs::write(
                dir.path().join(format!("{mode}.yaml")),
                format!("default: {{ mode: {mode}, policy: prod, mutate: true }}\n"),
            )
            .unwrap();
        }
        Files { dir }
    }
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// `portcullis admit INPUT -c MODE.yaml --verdicts verdicts.json EXTRA…`.
    fn admit(&self, input: &std::path::Path, mode: &str, extra: &[&str]) -> (i32, String, String) {
        let (cfg, verdicts) = (
            self.path(&format!("{mode}.yaml")),
            self.path("verdicts.json"),
        );
        let mut args = vec![
            "admit",
            input.to_str().unwrap(),
            "-c",
            &cfg,
            "--verdicts",
            &verdicts,
        ];
        args.extend(extra);
        cli(&[], &args)
    }
}

const API_005: &str = "005-validate-create-deployment-main-api.json";

#[test]
fn a_failing_image_is_denied_with_exit_1_and_a_readable_summary() {
    let f = Files::new();
    let review = fixture(API_005);
    let (code, out, err) = f.admit(&review, "policy", &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.starts_with("DENIED Deployment shop/api"), "{out}");
    let deny = out
        .lines()
        .find(|l| l.trim_start().starts_with("DENY"))
        .unwrap();
    assert!(
        deny.contains("busybox:1.36") && deny.contains("[policy / policy prod]"),
        "{out}"
    );
    assert!(
        out.contains("CVE-2023-0286 openssl 3.0.7-1 (fixed in 3.0.8-1)"),
        "{out}"
    );

    let (code, out, _) = f.admit(&review, "passive", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("ADMITTED Deployment shop/api"), "{out}");
}

#[test]
fn json_output_is_exactly_what_validate_and_mutate_send() {
    let f = Files::new();
    let verdicts = MemoryVerdicts::from_file(fixture_verdicts("prod"), "t").unwrap();
    for (name, mutate) in [
        (API_005, false),
        ("003-validate-create-pod-main-web.json", false),
        ("002-mutate-create-pod-main-web.json", true),
    ] {
        let path = fixture(name);
        let cfg = f.path("policy.yaml");
        let flags: &[&str] = if mutate {
            &["-o", "json", "--mutate"]
        } else {
            &["-o", "json"]
        };
        let (code, out, err) = f.admit(&path, "policy", flags);
        let review = Review::parse(&std::fs::read(&path).unwrap()).unwrap();
        let ep = if mutate {
            Endpoint::Mutate
        } else {
            Endpoint::Validate
        };
        let want = decide(
            &review,
            &Config::load(std::path::Path::new(&cfg)).unwrap(),
            &verdicts,
            &Context::new(ep),
        );
        assert_eq!(code, if want.allowed { 0 } else { 1 }, "{name}: {err}");
        assert_eq!(
            out.trim_end().as_bytes(),
            want.to_review_json().as_slice(),
            "{name}"
        );
        let got: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(got["kind"], "AdmissionReview");
        if mutate {
            assert_eq!(got["response"]["patchType"], "JSONPatch", "{got}");
        } else {
            assert!(got["response"].get("patch").is_none());
        }
    }
}

#[test]
fn manifests_on_stdin_are_decided_one_by_one() {
    let f = Files::new();
    let manifests = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, labels: {app: api}}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: main, image: 'registry.example.com:8443/team/api:2.1.0'}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: jobs}
spec:
  schedule: '0 3 * * *'
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          initContainers: [{name: fetch, image: 'busybox:1.36'}]
          containers: [{name: run, image: 'alpine:3.18'}]
";
    let mut child = Command::new(BIN)
        .args(["admit", "-", "-n", "shop", "-c"])
        .arg(f.path("policy.yaml"))
        .arg("--verdicts")
        .arg(f.path("verdicts.json"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(manifests.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("ADMITTED Deployment shop/api"), "{stdout}");
    assert!(stdout.contains("DENIED CronJob jobs/nightly"), "{stdout}");
    let deny = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("DENY"))
        .unwrap();
    assert!(
        deny.contains("fetch") && deny.contains("busybox:1.36"),
        "{stdout}"
    );
}

#[test]
fn container_admission_policies_apply_offline_too() {
    let f = Files::new();
    std::fs::write(
        f.dir.path().join("caps.yaml"),
        "metadata: {name: tolerate-api}\nspec:\n  selector: app == 'api'\n  rules:\n  - action: Allow\n",
    )
    .unwrap();
    let review = fixture(API_005);
    let caps = f.path("caps.yaml");
    let (code, out, err) = f.admit(
        &review,
        "policy",
        &["--admission-policies", &caps, "-o", "json"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let got: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        got["response"]["auditAnnotations"]["admission-policies"],
        "registry.example.com:8443/team/api:2.1.0=tolerate-api/rules[0]:Allow,busybox:1.36=tolerate-api/rules[0]:Allow"
    );
}

#[test]
fn bad_input_exits_2_with_a_precise_message() {
    let f = Files::new();
    let dir = f.dir.path();
    let cases: Vec<(&str, &str, String)> = vec![
        (
            "truncated.json",
            "{\"apiVersion\": \"admission.k8s.io/v1\", \"kind\": ",
            "truncated.json".into(),
        ),
        (
            "wrongkind.json",
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"TokenReview","request":{"uid":"u"}}"#,
            "TokenReview".into(),
        ),
        ("empty.yaml", "", "empty.yaml".into()),
    ];
    for (name, text, must) in &cases {
        std::fs::write(dir.join(name), text).unwrap();
        let (code, out, err) = cli(&[], &["admit", &f.path(name)]);
        assert_eq!(code, 2, "{name}: {out}{err}");
        assert!(
            err.starts_with("error: ") && err.contains(must.as_str()),
            "{name}: {err}"
        );
        assert_eq!(err.matches(must.as_str()).count(), 1, "said once: {err}");
        assert!(out.is_empty(), "{name}: nothing on stdout: {out}");
    }
    let (code, _, err) = cli(&[], &["admit", &f.path("missing.json")]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot read") && err.contains("missing.json"),
        "{err}"
    );
    std::fs::write(
        dir.join("bad-config.yaml"),
        "default: { mode: sometimes }\n",
    )
    .unwrap();
    let review = fixture(API_005);
    let (code, _, err) = cli(
        &[],
        &[
            "admit",
            review.to_str().unwrap(),
            "-c",
            &f.path("bad-config.yaml"),
        ],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("bad-config.yaml") && err.contains("sometimes"),
        "{err}"
    );
}
