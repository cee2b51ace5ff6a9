//! Ways around a check, tried offline through the real binary's `portcullis admit`: each test is a bypass that
//! once worked and must stay closed.

mod common;
#[path = "../../admission/tests/common/mod.rs"]
mod verdict_fixtures;

use common::cli;
use verdict_fixtures::fixture_verdicts;

/// A temporary directory holding the fixture verdicts (policy `prod`) and the files a test writes.
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
        Files { dir }
    }
    /// Writes `text` to `name` and returns its path.
    fn write(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// A Pod manifest in namespace `shop` running `image`, with extra `metadata` fields (YAML flow mapping entries).
fn pod(image: &str, metadata: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: shop{metadata}}}\nspec:\n  containers: [{{name: app, image: '{image}'}}]\n"
    )
}

#[test]
fn registry_aliases_do_not_slip_past_container_admission_policies_offline() {
    let f = Files::new();
    let cfg = f.write("policy.yaml", "default: { mode: policy, policy: prod }\n");
    let caps = f.write(
        "caps.yaml",
        "metadata: {name: no-hub}\nspec:\n  rules:\n  - action: Reject\n    imagePath: {operator: IsOneOf, values: ['^docker\\.io/']}\n",
    );
    for image in [
        "registry-1.docker.io/library/postgres:16.4",
        "registry.hub.docker.com/library/postgres:16.4",
        "INDEX.DOCKER.IO/postgres:16.4",
        "docker.io:443/library/postgres:16.4",
    ] {
        let manifest = f.write("pod.yaml", &pod(image, ""));
        let verdicts = f.path("verdicts.json");
        let (code, out, err) = cli(
            &[],
            &["admit", &manifest, "-c", &cfg, "--verdicts", &verdicts],
        );
        assert_eq!(
            code, 0,
            "{image} is the analysed docker.io/library/postgres:16.4: {out}{err}"
        );
        let (code, out, err) = cli(
            &[],
            &[
                "admit",
                &manifest,
                "-c",
                &cfg,
                "--verdicts",
                &verdicts,
                "--admission-policies",
                &caps,
            ],
        );
        assert_eq!(code, 1, "{image}: {out}{err}");
        assert!(
            out.contains(image) && out.contains("no-hub"),
            "the denial names the rule and the reference as written: {out}"
        );
    }
}

/// A Pod running the failing `busybox:1.36` that claims a ReplicaSet as its controller.
const OWNED_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\n  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: 1b7c0d6e-1111-4000-8000-000000000000, controller: true}]\nspec:\n  containers: [{name: app, image: 'busybox:1.36'}]\n";

#[test]
fn offline_no_owner_can_be_verified_so_nothing_is_skipped() {
    let f = Files::new();
    let cfg = f.write(
        "owned.yaml",
        "skipOwned: true\ndefault: { mode: policy, policy: prod }\n",
    );
    let manifest = f.write("pod.yaml", OWNED_POD);
    let (code, out, err) = cli(
        &[],
        &[
            "admit",
            &manifest,
            "-c",
            &cfg,
            "--verdicts",
            &f.path("verdicts.json"),
        ],
    );
    assert_eq!(code, 1, "an ownerReference alone earns no skip: {out}{err}");
    assert!(
        out.contains("busybox:1.36") && out.contains("CVE-2022-48174"),
        "{out}"
    );
}

#[test]
fn a_label_the_author_writes_cannot_choose_break_glass_unless_trusted() {
    let f = Files::new();
    let selector = |trust: &str| {
        format!(
            "default: {{ mode: policy, policy: prod }}\nselectors:\n  - {{ resource: object, field: label, key: breakglass, value: 'true', mode: breakglass{trust} }}\n"
        )
    };
    let manifest = f.write(
        "pod.yaml",
        &pod("busybox:1.36", ", labels: {breakglass: 'true'}"),
    );
    let verdicts = f.path("verdicts.json");
    let cfg = f.write("untrusted.yaml", &selector(""));
    let (code, out, err) = cli(
        &[],
        &["admit", &manifest, "-c", &cfg, "--verdicts", &verdicts],
    );
    assert_eq!(code, 1, "the label is taken as not matching: {out}{err}");
    assert!(out.contains("CVE-2022-48174"), "{out}");
    let cfg = f.write("trusted.yaml", &selector(", trustObjectFields: true"));
    let (code, out, err) = cli(
        &[],
        &["admit", &manifest, "-c", &cfg, "--verdicts", &verdicts],
    );
    assert_eq!(
        code, 0,
        "marked trustObjectFields, the label is honoured: {out}{err}"
    );

    // Anchore's configuration is read as-is: its pod breakglass selector is not honoured unless trusted.
    let anchore = |extra: &str| {
        format!(
            r#"{{{extra}"PolicySelectors":[{{"Selector":{{"ResourceType":"pod","SelectorKeyRegex":"breakglass","SelectorValueRegex":"true"}},"Mode":"breakglass"}},{{"Selector":{{"ResourceType":"image","SelectorKeyRegex":".*","SelectorValueRegex":".*"}},"PolicyReference":{{"PolicyBundleId":"prod"}},"Mode":"policy"}}]}}"#
        )
    };
    let cfg = f.write("anchore.json", &anchore(""));
    let (code, out, err) = cli(
        &[],
        &["admit", &manifest, "-c", &cfg, "--verdicts", &verdicts],
    );
    assert_eq!(code, 1, "{out}{err}");
    let cfg = f.write(
        "anchore-trusted.json",
        &anchore(r#""TrustObjectFields":true,"#),
    );
    let (code, out, err) = cli(
        &[],
        &["admit", &manifest, "-c", &cfg, "--verdicts", &verdicts],
    );
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn serve_warns_at_load_time_about_selectors_the_author_controls() {
    let f = Files::new();
    let cfg = f.write(
        "admission.yaml",
        "default: { mode: policy, policy: portcullis-default }\nselectors:\n  - { resource: namespace, value: dev, mode: passive }\n  - { resource: object, field: label, key: breakglass, value: 'true', mode: breakglass }\n",
    );
    let data = f.dir.path().join("data");
    let log = f.dir.path().join("serve.log");
    let port = portcullis_testkit::free_port().unwrap();
    let _serve = common::Serve::start(
        port,
        &data,
        &log,
        &["-c", &cfg],
        &[("PORTCULLIS_ADMIN_TOKEN", "bypass-token")],
    );
    let http = common::https_client(&data);
    common::wait_ready(&http, port, &log);
    let text = std::fs::read_to_string(&log).unwrap();
    let warning = text
        .lines()
        .find(|l| l.contains("WARN") && l.contains("trustObjectFields"))
        .unwrap_or_else(|| panic!("no load-time warning in:\n{text}"));
    assert!(
        warning.contains("selector 1") && warning.contains("breakglass"),
        "the warning names the selector: {warning}"
    );
    assert!(
        !text.contains("selector 0 ("),
        "namespace selectors are not the author's: {text}"
    );
}
