//! The chart's webhook configuration registered in the real API server while Portcullis is not running
//! (its Deployment has no Pods here): the behaviour follows `failurePolicy`, and kube-system and
//! Portcullis's own namespace are never sent to the webhook.

use std::process::Command;

use portcullis_testkit::{Cluster, ClusterOptions, repo_root, tool};

fn render(failure_policy: &str) -> String {
    let helm = tool("helm").expect("helm");
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(helm)
        .env("HELM_CACHE_HOME", home.path().join("c"))
        .env("HELM_CONFIG_HOME", home.path().join("f"))
        .env("HELM_DATA_HOME", home.path().join("d"))
        .args(["template", "portcullis"])
        .arg(repo_root().join("deploy/helm/portcullis"))
        .args(["--namespace", "portcullis", "--include-crds"])
        .args([
            "--set",
            &format!("admission.failurePolicy={failure_policy}"),
        ])
        .args(["--set", "admission.timeoutSeconds=3"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn pod(cluster: &Cluster, ns: &str, name: &str) -> Result<String, String> {
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  automountServiceAccountToken: false\n  containers: [{{name: c, image: 127.0.0.1:5000/app:1}}]\n"
    );
    let f = cluster.dir().join(format!("{ns}-{name}.yaml"));
    std::fs::write(&f, manifest).unwrap();
    cluster.kubectl(&["create", "-f", f.to_str().unwrap()])
}

#[tokio::test]
async fn failure_policy_applies_when_portcullis_is_down_and_system_namespaces_pass() {
    let cluster = Cluster::start(ClusterOptions {
        controller_manager: false,
        ..Default::default()
    })
    .await
    .expect("control plane");
    for ns in ["portcullis", "team"] {
        cluster.kubectl(&["create", "namespace", ns]).unwrap();
    }
    for ns in ["kube-system", "portcullis", "team"] {
        cluster
            .kubectl(&["-n", ns, "create", "serviceaccount", "default"])
            .ok();
    }
    let file = cluster.dir().join("chart.yaml");
    std::fs::write(&file, render("Fail")).unwrap();
    cluster
        .kubectl(&["apply", "--server-side", "-f", file.to_str().unwrap()])
        .expect("apply chart");

    // failurePolicy Fail: the API server refuses what it cannot have checked.
    let e = pod(&cluster, "team", "blocked").unwrap_err();
    // The chart pins images through the mutating webhook by default, so that one is called (and fails) first.
    assert!(
        e.contains("failed calling webhook \"mutate.portcullis.dev\"")
            || e.contains("failed calling webhook \"validate.portcullis.dev\""),
        "expected fail-closed, got: {e}"
    );
    // Excluded namespaces are never sent to Portcullis, so they keep working while it is down.
    pod(&cluster, "kube-system", "sys").expect("kube-system is never blocked");
    pod(&cluster, "portcullis", "own").expect("Portcullis's own namespace is never blocked");

    // failurePolicy Ignore: fail open.
    std::fs::write(&file, render("Ignore")).unwrap();
    cluster
        .kubectl(&["apply", "--server-side", "-f", file.to_str().unwrap()])
        .expect("re-apply chart");
    pod(&cluster, "team", "admitted")
        .expect("failurePolicy Ignore admits while Portcullis is down");
}
