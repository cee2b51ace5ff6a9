//! The Helm chart: rendered with real `helm template` (built from helm's Go module) and applied server-side
//! with real `kubectl` to the real test API server; its RBAC checked with SubjectAccessReviews; the shipped
//! CRDs and plain manifests checked against their sources.

use std::path::PathBuf;
use std::process::Command;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use portcullis_testkit::{Cluster, ClusterOptions, repo_root, tool};

fn chart() -> PathBuf {
    repo_root().join("deploy/helm/portcullis")
}

/// Runs `helm template` with the given extra args; Ok(stdout) or Err(stderr).
fn helm_template(args: &[&str]) -> Result<String, String> {
    let helm = tool("helm").expect("helm (built by scripts/cluster-build)");
    let home = tempfile::tempdir().expect("helm home");
    let out = Command::new(helm)
        .env("HELM_CACHE_HOME", home.path().join("cache"))
        .env("HELM_CONFIG_HOME", home.path().join("config"))
        .env("HELM_DATA_HOME", home.path().join("data"))
        .args(["template", "portcullis"])
        .arg(chart())
        .args(["--namespace", "portcullis"])
        .args(args)
        .output()
        .expect("run helm");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[tokio::test]
async fn chart_applies_server_side_with_least_privilege_rbac() {
    let rendered = helm_template(&[
        "--include-crds",
        "--set",
        "pullSecrets.namespaces={team-a}",
        "--set",
        "admission.failurePolicy=Ignore",
        "--set",
        "admission.timeoutSeconds=7",
        "--set",
        "admission.excludedNamespaces={infra}",
        "--set",
        "admission.mutatingWebhook.enabled=true",
        "--set",
        "signatures.keySecrets[0].namespace=team-b,signatures.keySecrets[0].name=ci-key",
    ])
    .expect("helm template");

    let cluster = Cluster::start(ClusterOptions {
        controller_manager: false,
        ..Default::default()
    })
    .await
    .expect("start control plane");
    for ns in ["portcullis", "team-a", "team-b"] {
        cluster
            .kubectl(&["create", "namespace", ns])
            .expect("namespace");
    }
    let file = cluster.dir().join("rendered.yaml");
    std::fs::write(&file, &rendered).unwrap();
    // The Deployment cannot run here (no kubelet); validate it server-side without persisting it, then
    // apply everything else for real.
    let dry = cluster
        .kubectl(&[
            "apply",
            "--server-side",
            "--dry-run=server",
            "--field-manager=helm-test",
            "-f",
            file.to_str().unwrap(),
        ])
        .expect("server-side dry-run of the whole chart");
    assert!(
        dry.contains("deployment.apps/portcullis serverside-applied (server dry run)"),
        "{dry}"
    );
    let applied = cluster
        .kubectl(&[
            "apply",
            "--server-side",
            "--field-manager=helm-test",
            "-f",
            file.to_str().unwrap(),
        ])
        .expect("server-side apply of the chart");
    for what in [
        "customresourcedefinition.apiextensions.k8s.io/containeradmissionpolicies.portcullis.dev",
        "validatingwebhookconfiguration.admissionregistration.k8s.io/portcullis",
        "mutatingwebhookconfiguration.admissionregistration.k8s.io/portcullis",
        "poddisruptionbudget.policy/portcullis",
        "secret/portcullis-tls",
    ] {
        assert!(applied.contains(what), "{what} not applied:\n{applied}");
    }

    let client = cluster.client().await.unwrap();
    // The webhook trusts exactly the CA that signed the serving certificate in the Secret.
    let vwc: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let vwc = vwc.get("portcullis").await.unwrap();
    let hook = &vwc.webhooks.as_ref().unwrap()[0];
    let secret: Secret = Api::namespaced(client.clone(), "portcullis")
        .get("portcullis-tls")
        .await
        .unwrap();
    let data = secret.data.unwrap();
    assert_eq!(
        hook.client_config.ca_bundle.as_ref().unwrap().0,
        data["ca.crt"].0,
        "caBundle must be the Secret's CA"
    );
    assert!(String::from_utf8_lossy(&data["tls.crt"].0).contains("BEGIN CERTIFICATE"));
    assert_eq!(hook.failure_policy.as_deref(), Some("Ignore"));
    assert_eq!(hook.timeout_seconds, Some(7));
    let excluded = &hook
        .namespace_selector
        .as_ref()
        .unwrap()
        .match_expressions
        .as_ref()
        .unwrap()[0];
    assert_eq!(excluded.operator, "NotIn");
    assert_eq!(
        excluded.values.as_deref().unwrap(),
        ["kube-system", "portcullis", "infra"]
    );

    // The (dry-run) Deployment: non-root, read-only root filesystem, probes.
    let dep: Deployment = serde_yaml_ng::from_str(
        rendered
            .split("\n---")
            .find(|d| d.contains("kind: Deployment"))
            .unwrap(),
    )
    .unwrap();
    let pod = dep.spec.unwrap().template.spec.unwrap();
    let c = &pod.containers[0];
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(pod.security_context.unwrap().run_as_non_root, Some(true));
    assert!(c.readiness_probe.is_some() && c.liveness_probe.is_some());

    // Least privilege, asked of the real authorizer (SubjectAccessReview via `kubectl auth can-i`).
    let sa = "system:serviceaccount:portcullis:portcullis";
    let can = |args: &[&str]| -> bool {
        let mut a = vec!["auth", "can-i"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--as", sa]);
        cluster
            .kubectl(&a)
            .map(|o| o.trim() == "yes")
            .unwrap_or(false)
    };
    assert!(
        can(&["get", "secrets", "-n", "team-a"]),
        "pull secrets readable in watched namespace"
    );
    assert!(
        !can(&["get", "secrets", "-n", "team-b"]),
        "no secrets outside watched namespaces"
    );
    assert!(
        !can(&["list", "secrets", "-n", "team-a"]),
        "get only, no list"
    );
    assert!(
        can(&["get", "secrets/ci-key", "-n", "team-b"]),
        "the Secret a verify key names (signatures.keySecrets)"
    );
    assert!(
        !can(&["get", "secrets/other", "-n", "team-b"]),
        "only the named Secret in that namespace"
    );
    assert!(!can(&["create", "secrets", "-n", "team-a"]));
    assert!(
        can(&["list", "nodes"]),
        "the Nodes' platforms (analysis.platforms empty)"
    );
    assert!(!can(&["update", "nodes"]), "Nodes are only listed");
    assert!(can(&[
        "update",
        "leases.coordination.k8s.io",
        "-n",
        "portcullis"
    ]));
    assert!(!can(&[
        "update",
        "leases.coordination.k8s.io",
        "-n",
        "team-a"
    ]));
    assert!(can(&[
        "create",
        "imagereports.portcullis.dev",
        "-n",
        "team-b"
    ]));
    assert!(can(&["watch", "containeradmissionpolicies.portcullis.dev"]));
    assert!(
        !can(&["update", "containeradmissionpolicies.portcullis.dev"]),
        "only /status is writable"
    );
    assert!(!can(&["create", "pods", "-n", "team-a"]));
    assert!(!can(&["delete", "validatingwebhookconfigurations"]));
}

#[test]
fn chart_rejects_invalid_values_with_clear_messages() {
    let e = helm_template(&["--set", "admission.mode=block"]).unwrap_err();
    assert!(
        e.contains("admission.mode must be one of policy, analysis, passive, audit"),
        "{e}"
    );
    let e = helm_template(&["--set", "admission.failurePolicy=Maybe"]).unwrap_err();
    assert!(
        e.contains("admission.failurePolicy must be Fail or Ignore"),
        "{e}"
    );
    // Several replicas on SQLite would each keep their own store and answer differently.
    let e = helm_template(&[
        "--set",
        "storage.type=sqlite",
        "--set",
        "postgresql.enabled=false",
    ])
    .unwrap_err();
    assert!(
        e.contains("replicaCount=2 with storage.type=sqlite")
            && e.contains("Set replicaCount=1")
            && e.contains("postgresql.enabled=true"),
        "{e}"
    );
    let e =
        helm_template(&["--set", "storage.type=sqlite", "--set", "replicaCount=1"]).unwrap_err();
    assert!(e.contains("postgresql.enabled=false"), "{e}");
    let e = helm_template(&["--set", "postgresql.enabled=false"]).unwrap_err();
    assert!(
        e.contains("storage.postgresql.dsn") && e.contains("postgresql.enabled=true"),
        "{e}"
    );
    let e = helm_template(&["--set", "storage.postgresql.dsn=postgres://db/p"]).unwrap_err();
    assert!(e.contains("choose one"), "{e}");
    let e = helm_template(&["--set", "storage.type=etcd"]).unwrap_err();
    assert!(
        e.contains("storage.type must be sqlite or postgresql"),
        "{e}"
    );
    let e = helm_template(&["--set", "analysis.isolation=thread"]).unwrap_err();
    assert!(
        e.contains("analysis.isolation must be process or inline"),
        "{e}"
    );
    // The memory limit must hold every analysis worker plus the server itself.
    let e = helm_template(&["--set", "resources.limits.memory=500Mi"]).unwrap_err();
    assert!(
        e.contains("resources.limits.memory=500Mi (500 MiB) is below")
            && e.contains("analysis.workers (2) × analysis.memoryLimit (224 MiB)")
            && e.contains("at least 832Mi"),
        "{e}"
    );
    let e = helm_template(&[
        "--set",
        "resources.limits.memory=1Gi",
        "--set",
        "analysis.workers=4",
    ])
    .unwrap_err();
    assert!(e.contains("at least 1280Mi"), "{e}");
    let e = helm_template(&["--set", "resources.limits.memory=1.5Gi"]).unwrap_err();
    assert!(e.contains("whole-number memory quantity"), "{e}");
    let ok = helm_template(&[
        "--set",
        "resources.limits.memory=1400M",
        "--set",
        "analysis.workers=4",
    ])
    .unwrap();
    assert!(ok.contains("--workers=4"), "{ok}");
}

#[test]
fn chart_storage_and_registry_values_reach_the_deployment() {
    let out = helm_template(&[
        "--set",
        "postgresql.enabled=false",
        "--set",
        "storage.postgresql.dsn=postgres://p:s@db/portcullis",
        "--set-json",
        r#"registryCredentials.dockerconfigjson="{\"auths\":{}}""#,
    ])
    .unwrap();
    assert!(out.contains("name: portcullis-postgresql"), "DSN Secret");
    assert!(out.contains("postgres://p:s@db/portcullis"));
    assert!(out.contains("type: kubernetes.io/dockerconfigjson"));
    assert!(out.contains("value: /etc/portcullis/registry/.dockerconfigjson"));
    assert!(!out.contains("kind: StatefulSet"), "no PostgreSQL deployed");

    // Registry allow/deny/insecure lists and the analysis limits become serve flags.
    let out = helm_template(&[
        "--set-json",
        r#"registries={"allow":["*.corp.example","10.0.0.0/8"],"deny":["bad.corp.example"],"insecure":["reg.corp.example:5000"]}"#,
        "--set",
        "analysis.memoryLimit=300",
        "--set",
        "resources.limits.memory=1Gi",
        "--set",
        "analysis.timeout=120",
    ])
    .unwrap();
    for flag in [
        r#"- "--registry-allow=*.corp.example""#,
        r#"- "--registry-allow=10.0.0.0/8""#,
        r#"- "--registry-deny=bad.corp.example""#,
        r#"- "--insecure-registry=reg.corp.example:5000""#,
        "- --analysis-isolation=process",
        "- --analysis-memory-limit-mib=300",
        "- --analysis-timeout=120",
        "- --analysis-cpu-seconds=300",
    ] {
        assert!(out.contains(flag), "{flag} missing");
    }

    let out = helm_template(&[
        "--set",
        "storage.type=sqlite",
        "--set",
        "postgresql.enabled=false",
        "--set",
        "replicaCount=1",
        "--set",
        "storage.sqlite.persistence.enabled=true",
    ])
    .unwrap();
    assert!(out.contains("kind: PersistentVolumeClaim"));
    assert!(out.contains("claimName: portcullis-data"));
    assert!(
        !out.contains("kind: PodDisruptionBudget"),
        "no PDB for one replica"
    );
}

#[test]
fn chart_defaults_deploy_a_shared_postgresql_with_generated_secrets() {
    let out = helm_template(&[]).unwrap();
    let docs: Vec<serde_yaml_ng::Value> = out
        .split("\n---")
        .filter_map(|d| serde_yaml_ng::from_str(d).ok())
        .collect();
    let find = |kind: &str, name: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{kind} {name} not rendered:\n{out}"))
    };
    let sts = find("StatefulSet", "portcullis-postgresql");
    let pod = &sts["spec"]["template"]["spec"];
    assert_eq!(
        pod["containers"][0]["image"], "docker.io/library/postgres:17",
        "the official image"
    );
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["accessModes"][0],
        "ReadWriteOnce"
    );
    // PostgreSQL's Pods are not Portcullis's: the Service and the PDB of the webhook never select them.
    assert_eq!(
        sts["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
        "portcullis-postgresql"
    );
    let secret = find("Secret", "portcullis-postgresql");
    assert_eq!(
        secret["metadata"]["annotations"]["helm.sh/resource-policy"],
        "keep"
    );
    assert!(secret["data"]["password"].as_str().unwrap().len() > 40);
    find("Secret", "portcullis-admin-token");
    find("Service", "portcullis-postgresql");
    let dep = find("Deployment", "portcullis");
    assert_eq!(dep["spec"]["replicas"], 2);
    let env =
        serde_yaml_ng::to_string(&dep["spec"]["template"]["spec"]["containers"][0]["env"]).unwrap();
    assert!(
        env.contains("PORTCULLIS_STORE_DSN") && env.contains("name: portcullis-postgresql"),
        "{env}"
    );
    assert!(
        env.contains("PORTCULLIS_ADMIN_TOKEN_FILE"),
        "one admin token for all replicas: {env}"
    );
}

#[test]
fn chart_service_monitor_is_optional_and_scrapes_https_with_the_webhook_ca() {
    let out = helm_template(&[]).unwrap();
    assert!(!out.contains("kind: ServiceMonitor"), "off by default");
    let out = helm_template(&[
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        "metrics.serviceMonitor.labels.release=prom",
    ])
    .unwrap();
    let sm = out
        .split("\n---")
        .find(|d| d.contains("kind: ServiceMonitor"))
        .expect("a ServiceMonitor");
    for want in [
        "path: /metrics",
        "scheme: https",
        "port: https",
        "serverName: portcullis.portcullis.svc",
        "name: portcullis-tls",
        "key: ca.crt",
        "release: prom",
    ] {
        assert!(sm.contains(want), "{want} not in:\n{sm}");
    }
}

#[test]
fn chart_policies_and_active_bundle_reach_serve() {
    let values = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        values.path(),
        "admission:\n  policyBundle: Strict\n  activeBundle: strict\npolicies:\n  strict.json: |\n    \
         {\"id\": \"strict\", \"name\": \"Strict\", \"policies\": []}\n",
    )
    .unwrap();
    let out = helm_template(&["-f", values.path().to_str().unwrap()]).unwrap();
    assert!(
        out.contains("- --policy-bundle=/etc/portcullis/config/policy-strict.json"),
        "{out}"
    );
    assert!(out.contains("- --active-bundle=strict"), "{out}");
    assert!(
        out.contains("policy-strict.json: |"),
        "bundle in the ConfigMap"
    );
    assert!(
        out.contains(r#"policy: "Strict""#),
        "admission default policy"
    );

    let out = helm_template(&[]).unwrap();
    assert!(!out.contains("--policy-bundle") && !out.contains("--active-bundle"));

    let e = helm_template(&["--set-string", "policies.x=not-json"]).unwrap_err();
    assert!(
        e.contains("policies.x must be an Anchore policy bundle as a JSON string"),
        "{e}"
    );
}

#[test]
fn chart_wires_webhook_client_auth_and_a_network_policy() {
    let out = helm_template(&[]).unwrap();
    assert!(!out.contains("--client-ca") && !out.contains("kind: NetworkPolicy"));
    let out = helm_template(&[
        "--set",
        "webhookClientAuth.enabled=true",
        "--set",
        "webhookClientAuth.caConfigMap=apiserver-client-ca",
        "--set",
        "networkPolicy.enabled=true",
        "--set-json",
        r#"networkPolicy.from=[{"ipBlock":{"cidr":"10.0.0.10/32"}}]"#,
    ])
    .unwrap();
    assert!(
        out.contains("- --client-ca=/etc/portcullis/client-ca/ca.crt"),
        "{out}"
    );
    assert!(out.contains("name: apiserver-client-ca"), "{out}");
    let policy = out
        .split("\n---")
        .find(|d| d.contains("kind: NetworkPolicy"))
        .expect("a NetworkPolicy");
    assert!(
        policy.contains("cidr: 10.0.0.10/32") && policy.contains("port: 8443"),
        "{policy}"
    );
    // The chart-deployed PostgreSQL admits only Portcullis's Pods.
    let db = out
        .split("\n---")
        .find(|d| d.contains("name: portcullis-postgresql") && d.contains("kind: NetworkPolicy"))
        .expect("a NetworkPolicy for PostgreSQL");
    assert!(
        db.contains("port: 5432")
            && db.contains("app.kubernetes.io/name: portcullis-postgresql")
            && db.contains("app.kubernetes.io/name: portcullis\n"),
        "{db}"
    );
    let e = helm_template(&["--set", "webhookClientAuth.enabled=true"]).unwrap_err();
    assert!(e.contains("webhookClientAuth.caConfigMap"), "{e}");
    let e = helm_template(&["--set", "networkPolicy.enabled=true"]).unwrap_err();
    assert!(e.contains("networkPolicy.from"), "{e}");
}

/// `analysis.budgets` become `serve --budget NAME=VALUE` arguments (none by default: the built-in defaults).
#[test]
fn chart_passes_analysis_budgets_to_serve() {
    let out = helm_template(&[]).unwrap();
    assert!(!out.contains("--budget"), "no budget flags by default");
    let out = helm_template(&[
        "--set",
        "analysis.budgets.max_layer_bytes=2GiB",
        "--set-string",
        "analysis.budgets.max_path_depth=128",
    ])
    .unwrap();
    assert!(
        out.contains(r#"- "--budget=max_layer_bytes=2GiB""#)
            && out.contains(r#"- "--budget=max_path_depth=128""#),
        "{out}"
    );
}

#[test]
fn rendered_manifests_are_current() {
    let values = repo_root().join("deploy/manifests/values.yaml");
    let out = helm_template(&["--include-crds", "-f", values.to_str().unwrap()]).unwrap();
    let shipped = std::fs::read_to_string(repo_root().join("deploy/manifests/portcullis.yaml"))
        .expect("deploy/manifests/portcullis.yaml");
    assert!(
        out == shipped,
        "deploy/manifests/portcullis.yaml is stale: run deploy/render.sh"
    );
    assert!(
        !shipped.contains("PRIVATE KEY"),
        "no key material in plain manifests"
    );
}

#[test]
fn shipped_crds_match_the_rust_types() {
    let generated = portcullis_kube::crd::crds_yaml().unwrap();
    for path in [
        "deploy/crds/portcullis.yaml",
        "deploy/helm/portcullis/crds/portcullis.yaml",
    ] {
        let shipped = std::fs::read_to_string(repo_root().join(path)).unwrap();
        assert!(
            shipped == generated,
            "{path} is stale: run `cargo run -p portcullis-kube --example crds`"
        );
    }
}

#[test]
fn chart_admission_config_is_what_portcullis_parses() {
    let out = helm_template(&[
        "--set",
        "admission.mode=analysis",
        "--set",
        "admission.policyBundle=prod",
        "--set",
        "admission.excludedNamespaces={infra}",
        "--set",
        "admission.selectors[0].resource=namespace",
        "--set",
        "admission.selectors[0].field=name",
        "--set",
        "admission.selectors[0].value=team-.*",
        "--set",
        "admission.selectors[0].mode=policy",
        "--set",
        "admission.selectors[0].policy=strict",
    ])
    .unwrap();
    let cm: k8s_openapi::api::core::v1::ConfigMap = serde_yaml_ng::from_str(
        out.split("\n---")
            .find(|d| d.contains("kind: ConfigMap"))
            .unwrap(),
    )
    .unwrap();
    let data = cm.data.unwrap();
    let cfg = portcullis_admission::Config::parse(&data["admission.yaml"], "chart ConfigMap")
        .expect("the chart's admission.yaml is valid Portcullis configuration");
    assert_eq!(
        cfg.exempt_namespaces,
        ["kube-system", "portcullis", "infra"]
    );
    assert_eq!(cfg.default.mode, portcullis_admission::Mode::Analysis);
    assert_eq!(cfg.default.policy, "prod");
    assert!(
        cfg.default.mutate,
        "admitted images are pinned to the judged digest by default"
    );
    assert!(
        out.contains("kind: MutatingWebhookConfiguration"),
        "and /mutate is registered to do it"
    );
    assert!(
        !cfg.skip_owned,
        "controller children are checked unless skipControllerChildren is set"
    );
    assert_eq!(cfg.selectors.len(), 1);
    assert_eq!(cfg.selectors[0].assign.policy, "strict");
}

#[test]
fn chart_triage_documents_reach_serve_and_parse() {
    let values = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        values.path(),
        r#"triage:
  vex:
    app.openvex.json: |
      {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1", "author": "ops",
       "timestamp": "2026-01-01T00:00:00Z", "version": 1,
       "statements": [{"vulnerability": {"name": "CVE-2023-0286"},
                       "products": [{"@id": "pkg:deb/debian/openssl@3.0.7-1"}],
                       "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}
  ignoreRules:
    team.yaml: |
      rules:
        - vulnerability: CVE-2022-48174
          package: {name: busybox}
          reason: busybox is not used at runtime in our images
          expires: 2027-01-31
    list.yaml: |
      - vulnerability: CVE-2024-0001
        reason: accepted risk
"#,
    )
    .unwrap();
    let out = helm_template(&["-f", values.path().to_str().unwrap()]).unwrap();
    for arg in [
        "- --vex=/etc/portcullis/config/vex-app.openvex.json",
        "- --ignore-file=/etc/portcullis/config/ignore-team.yaml",
        "- --ignore-file=/etc/portcullis/config/ignore-list.yaml",
    ] {
        assert!(out.contains(arg), "{arg} in {out}");
    }
    // What serve reads from the mounted ConfigMap is what the triage code parses.
    let cm: k8s_openapi::api::core::v1::ConfigMap = serde_yaml_ng::from_str(
        out.split("\n---")
            .find(|d| d.contains("kind: ConfigMap"))
            .unwrap(),
    )
    .unwrap();
    let data = cm.data.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for key in [
        "vex-app.openvex.json",
        "ignore-team.yaml",
        "ignore-list.yaml",
    ] {
        std::fs::write(dir.path().join(key), &data[key]).unwrap();
    }
    let t = portcullis_vuln::triage::Triage::load(
        &[dir.path().join("vex-app.openvex.json")],
        &[
            dir.path().join("ignore-team.yaml"),
            dir.path().join("ignore-list.yaml"),
        ],
    )
    .expect("the chart's triage documents are what serve reads");
    assert_eq!(t.vex.len(), 1);
    assert_eq!(t.ignore.len(), 2);

    let out = helm_template(&[]).unwrap();
    assert!(!out.contains("--vex") && !out.contains("--ignore-file"));

    let e = helm_template(&["--set-string", "triage.vex.x=not-json"]).unwrap_err();
    assert!(
        e.contains("triage.vex.x must be a VEX document (OpenVEX, CycloneDX VEX or CSAF VEX) as a JSON string"),
        "{e}"
    );
    let e = helm_template(&["--set-string", "triage.ignoreRules.y=rules: [unclosed"]).unwrap_err();
    assert!(
        e.contains("triage.ignoreRules.y must be an ignore-rules file"),
        "{e}"
    );
    let e = helm_template(&["--set-string", "triage.vex.bad/name={}"]).unwrap_err();
    assert!(e.contains("must be a file name"), "{e}");
}
