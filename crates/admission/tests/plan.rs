//! `plan()` names exactly the images `decide()` looks up by tag, so a caller that resolves what `plan()` returns
//! never resolves an image the decision skips (skipOwned, break-glass, exempt namespaces, unchanged images).

mod common;

use std::collections::BTreeSet;
use std::sync::Mutex;

use common::*;
use portcullis_admission::*;
use portcullis_image::ImageRef;

/// A verdict source that knows nothing and records which tags `decide` asked it to resolve.
#[derive(Default)]
struct Recording {
    resolved: Mutex<Vec<String>>,
}

impl ImageVerdicts for Recording {
    fn lookup(&self, _image: &ImageRef, _policy: &str, _namespace: &str) -> ImageState {
        ImageState::Unknown
    }
    fn enqueue(&self, _image: &ImageRef, _requestor: &str, _namespace: &str) {}
    fn resolve_cached(&self, image: &ImageRef) -> Option<String> {
        self.resolved.lock().unwrap().push(display_ref(image));
        None
    }
    fn signatures(
        &self,
        _digest: &str,
        _verify: &portcullis_admission::config::VerifySpec,
    ) -> Option<std::sync::Arc<portcullis_verify::SignatureFacts>> {
        None
    }
    fn enqueue_verification(
        &self,
        _image: &ImageRef,
        _verify: &portcullis_admission::config::VerifySpec,
        _namespace: &str,
    ) {
    }
}

/// The normalised references `plan` returns and those `decide` looked up by tag.
fn planned_and_looked_up(review: &Review, cfg: &Config) -> (BTreeSet<String>, BTreeSet<String>) {
    let planned = plan(review, cfg, None, None)
        .iter()
        .map(|p| display_ref(&p.reference))
        .collect();
    let v = Recording::default();
    decide(review, cfg, &v, &Context::new(Endpoint::Validate));
    let looked_up = v.resolved.into_inner().unwrap().into_iter().collect();
    (planned, looked_up)
}

fn config(text: &str) -> Config {
    Config::parse(text, "test").unwrap()
}

fn review(prefix: &str, f: impl Fn(&mut serde_json::Value)) -> Review {
    let (_, bytes) = fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with(prefix))
        .unwrap();
    let mut raw: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    f(&mut raw);
    Review::parse(&serde_json::to_vec(&raw).unwrap()).unwrap()
}

#[test]
fn plan_matches_decide_on_every_fixture_and_option() {
    let configs = [
        "default: {mode: policy}\n",
        "recheckUnchanged: true\ndefault: {mode: policy}\n",
        "skipOwned: true\ndefault: {mode: audit}\n",
        "default: {mode: breakglass}\n",
        "exemptNamespaces: [main]\ndefault: {mode: policy}\n",
    ];
    let mut planned_total = 0;
    for text in configs {
        let cfg = config(text);
        for (name, bytes) in fixtures() {
            let r = Review::parse(&bytes).unwrap();
            let (planned, looked_up) = planned_and_looked_up(&r, &cfg);
            assert_eq!(planned, looked_up, "{name} with {text:?}");
            planned_total += planned.len();
        }
    }
    assert!(
        planned_total > 0,
        "the fixtures use tags, so something is planned"
    );
}

#[test]
fn plan_honours_skip_owned() {
    let owned = review("014", |raw| {
        raw["request"]["object"]["metadata"]["ownerReferences"] = serde_json::json!([{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"x","controller":true}]);
    });
    let plain = config("default: {mode: policy}\n");
    assert!(
        !plan(&owned, &plain, None, None).is_empty(),
        "without skipOwned the owned pod's image is resolved"
    );
    let skip = config("skipOwned: true\ndefault: {mode: policy}\n");
    assert!(
        !plan(&owned, &skip, None, None).is_empty(),
        "an owner nobody verified earns no skip"
    );
    let verified = portcullis_admission::VerifiedOwner {
        kind: "ReplicaSet".into(),
        name: "rs".into(),
        uid: "x".into(),
    };
    assert_eq!(plan(&owned, &skip, None, Some(&verified)), vec![]);
}

#[test]
fn plan_honours_breakglass_per_image() {
    let r = review("014", |_| {});
    let everything = plan(&r, &config("default: {mode: policy}\n"), None, None);
    assert!(!everything.is_empty());
    assert_eq!(
        plan(&r, &config("default: {mode: breakglass}\n"), None, None),
        vec![]
    );
    // Break-glass chosen by a namespace label only reaches plan() through the namespace metadata.
    let by_label = config(
        "selectors:\n  - {resource: namespace, field: label, key: team, value: ops, mode: breakglass}\ndefault: {mode: policy}\n",
    );
    let ops = NamespaceMeta {
        name: r.namespace().to_string(),
        labels: [("team".to_string(), "ops".to_string())].into(),
        ..Default::default()
    };
    assert_eq!(plan(&r, &by_label, Some(&ops), None), vec![]);
    assert_eq!(plan(&r, &by_label, None, None), everything);
}
