//! Issue #12 hole 4 through the real binary: `portcullis serve --platform linux/amd64 --platform linux/arm64`
//! judges every platform of a multi-platform index pushed to a real `docker-registry` (amd64 clean, arm64 with
//! an openssl the real Debian advisory data calls vulnerable) and `/validate` denies it naming linux/arm64;
//! `serve --platform linux/amd64` admits the same index; without `--platform`, `serve --kube-config` takes the
//! platforms the real kube-apiserver's Nodes report and denies it again.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Serve, cli, fixture, https_client, shared, validate, wait_ready};
use portcullis_testkit::{
    Cluster, ClusterOptions, LayerBuilder, Mode, OciWriter, Registry, TestImage, free_port,
};

const OS_RELEASE: &str =
    "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nID=debian\n";

fn dpkg(name: &str, version: &str, arch: &str) -> String {
    format!(
        "Package: {name}\nStatus: install ok installed\nArchitecture: {arch}\nVersion: {version}\n\
         Description: test package\n\n"
    )
}

/// amd64 with only base-files; arm64 with openssl 3.0.9-1 (DSA-5532-1: CVE-2023-5363, fixed in bookworm's
/// 3.0.11-1~deb12u2).
fn write_index(dir: &Path) {
    let mut w = OciWriter::new(dir).expect("OCI layout");
    let layer = |status: String| {
        LayerBuilder::new()
            .file("etc/os-release", OS_RELEASE)
            .file("var/lib/dpkg/status", status)
            .tar()
    };
    let amd = w
        .image(&TestImage::new(vec![layer(dpkg(
            "base-files",
            "12.4+deb12u5",
            "amd64",
        ))]))
        .expect("amd64 image");
    let arm = w
        .image(
            &TestImage::new(vec![layer(dpkg("openssl", "3.0.9-1", "arm64"))])
                .platform("linux", "arm64", None),
        )
        .expect("arm64 image");
    let idx = w.index(&[amd, arm]).expect("index");
    w.tag("multi", &idx).finish().expect("index.json");
}

/// A bundle that STOPs on any vulnerability.
const BUNDLE: &str = r#"{"id": "any-vuln", "name": "any-vuln", "version": "1_0",
  "policies": [{"id": "p1", "name": "any vulnerability", "version": "1_0", "rules": [{
    "id": "r1", "gate": "vulnerabilities", "trigger": "package", "action": "STOP",
    "params": [{"name": "package_type", "value": "all"}, {"name": "severity_comparison", "value": ">="},
               {"name": "severity", "value": "unknown"}]}]}],
  "whitelists": [],
  "mappings": [{"id": "m1", "name": "all", "registry": "*", "repository": "*",
    "image": {"type": "tag", "value": "*"}, "policy_ids": ["p1"], "whitelist_ids": []}],
  "whitelisted_images": [], "blacklisted_images": []}"#;

/// Starts serve with `platforms`, sends the review until it is no longer "not analysed", returns the response.
fn decide_with(
    tmp: &Path,
    name: &str,
    platforms: &[&str],
    review: &serde_json::Value,
) -> serde_json::Value {
    decide_in(tmp, name, platforms, review, &[], &[])
}

/// [`decide_with`] with extra `serve` arguments and environment.
fn decide_in(
    tmp: &Path,
    name: &str,
    platforms: &[&str],
    review: &serde_json::Value,
    extra: &[&str],
    env: &[(&str, &str)],
) -> serde_json::Value {
    let data = tmp.join(format!("data-{name}"));
    let log = tmp.join(format!("serve-{name}.log"));
    let port = free_port().unwrap();
    let mut args = vec![
        "--vuln-db".to_string(),
        tmp.join("vuln.db").display().to_string(),
        "-c".into(),
        tmp.join("admission.yaml").display().to_string(),
        "--policy-bundle".into(),
        tmp.join("bundle.json").display().to_string(),
        "--active-bundle".into(),
        "any-vuln".into(),
    ];
    for p in platforms {
        args.push("--platform".into());
        args.push(p.to_string());
    }
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    let mut env = env.to_vec();
    env.push(("PORTCULLIS_ADMIN_TOKEN", "platforms-test-token"));
    let _serve = Serve::start(port, &data, &log, &args, &env);
    let http = https_client(&data);
    wait_ready(&http, port, &log);
    let start = Instant::now();
    loop {
        let answer = validate(&http, port, review);
        let message = answer["response"]["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let allowed = answer["response"]["allowed"].as_bool() == Some(true);
        if allowed || message.contains("failed policy") {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            let platforms_line = log
                .lines()
                .find(|l| l.contains("analysing the platforms"))
                .unwrap_or_default()
                .to_string();
            let mut answer = answer;
            answer["platforms_line"] = serde_json::json!(platforms_line);
            return answer;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no verdict after 90 s; last answer {answer}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn serve_judges_every_selected_platform_of_an_index() {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let tmp = tempfile::tempdir().unwrap();
    write_index(&tmp.path().join("oci"));
    reg.push(&tmp.path().join("oci"), "multi", "shop/multi:1", true)
        .expect("push the index");
    let tag = format!("{}/shop/multi:1", reg.addr);

    let debian = shared().join("vulndata/debian/vuln-list-debian");
    let vuln_db = tmp.path().join("vuln.db");
    let (code, _, err) = cli(
        &[],
        &[
            "db",
            "import",
            debian.to_str().unwrap(),
            "--db",
            vuln_db.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "db import: {err}");
    std::fs::write(tmp.path().join("bundle.json"), BUNDLE).unwrap();
    std::fs::write(
        tmp.path().join("admission.yaml"),
        "default: { mode: policy, policy: default }\n",
    )
    .unwrap();
    let mut review: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixture("014-validate-create-pod-main-solo.json")).unwrap(),
    )
    .unwrap();
    review["request"]["object"]["spec"]["containers"][0]["image"] = serde_json::json!(tag);

    let both = decide_with(tmp.path(), "both", &["linux/amd64", "linux/arm64"], &review);
    assert_eq!(
        both["platforms_line"],
        "portcullis: analysing the platforms linux/amd64, linux/arm64 of multi-platform images"
    );
    let message = both["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(both["response"]["allowed"], false, "{both}");
    assert!(
        message.contains("linux/arm64: STOP vulnerabilities.package CVE-2023-5363 openssl 3.0.9-1")
            && !message.contains("linux/amd64:"),
        "{message}"
    );

    let amd_only = decide_with(tmp.path(), "amd64", &["linux/amd64"], &review);
    assert_eq!(amd_only["response"]["allowed"], true, "{amd_only}");

    // No --platform, with the Kubernetes integration: the platforms the real kube-apiserver's Nodes report.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cluster = rt
        .block_on(Cluster::start(ClusterOptions {
            controller_manager: false,
            ..Default::default()
        }))
        .expect("the test control plane (kube-apiserver, etcd) must be installed: scripts/setup.d");
    let nodes: Vec<String> = [("a1", "amd64"), ("r1", "arm64")]
        .iter()
        .map(|(name, arch)| {
            format!(
                "apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n  labels:\n    kubernetes.io/os: linux\n    kubernetes.io/arch: {arch}\n"
            )
        })
        .collect();
    let f = tmp.path().join("nodes.yaml");
    std::fs::write(&f, nodes.join("---\n")).unwrap();
    cluster
        .kubectl(&["create", "-f", f.to_str().unwrap()])
        .expect("create Nodes");
    let settings = tmp.path().join("kubernetes.yaml");
    std::fs::write(
        &settings,
        "reports: false\nevents: false\naudit:\n  enabled: false\n",
    )
    .unwrap();
    let kubeconfig = cluster.kubeconfig.display().to_string();
    let from_nodes = decide_in(
        tmp.path(),
        "nodes",
        &[],
        &review,
        &["--kube-config", settings.to_str().unwrap()],
        &[
            ("KUBECONFIG", kubeconfig.as_str()),
            ("POD_NAME", "portcullis-0"),
            ("POD_NAMESPACE", "portcullis"),
        ],
    );
    assert_eq!(
        from_nodes["platforms_line"],
        "portcullis: analysing the platforms linux/amd64, linux/arm64 of multi-platform images"
    );
    assert_eq!(from_nodes["response"]["allowed"], false, "{from_nodes}");
    assert!(
        from_nodes["response"]["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("linux/arm64: STOP")),
        "{from_nodes}"
    );
}
