//! ContainerAdmissionPolicy (Calico / Tigera image assurance CRD shape).
//!
//! ```yaml
//! apiVersion: containersecurity.tigera.io/v1beta1
//! kind: ContainerAdmissionPolicy
//! metadata: {name: reject-failed}
//! spec:
//!   selector: all()                       # pod (object) labels, Calico selector language
//!   namespaceSelector: "env == 'prod'"     # namespace labels
//!   order: 10                             # lower first; absent = after every ordered policy
//!   rules:
//!   - action: Allow
//!     imagePath: {operator: IsOneOf, values: ["^registry.example.com/"]}
//!     imageScanStatus: {operator: IsOneOf, values: [Pass, Warn]}
//!     imageLastScan: {operator: gt, duration: {days: 3}}
//!     imageSignatureStatus: {operator: IsOneOf, values: [Verified]}   # a Portcullis addition
//!   - action: Reject
//! ```
//!
//! Semantics:
//! - Policies whose `selector` matches the object's labels and whose `namespaceSelector` matches the
//!   namespace's labels apply, in ascending `order` (absent order last), ties by name.
//! - Within a policy, rules are tried in order; a rule matches when every condition it has holds (a rule with
//!   no condition matches everything). The first matching rule across the applicable policies decides.
//! - `imagePath` values are regular expressions searched in the image reference (unanchored, like Go's
//!   `MatchString`); `IsOneOf` needs one to match, `IsNoneOf` needs none to.
//! - `imageLastScan`: the reference time is `now - duration` or the absolute `time`; `gt` holds when the last
//!   scan is later than it (scanned recently enough), `lt` when earlier. An image never scanned satisfies
//!   neither.
//! - `imageSignatureStatus` (Portcullis's addition): `Verified` when a signature verified against the
//!   admission config's `verify` block, `Unverified` when verification ran and none did, `Unknown` when the
//!   image was not verified (no `verify` block, or not yet).
//! - **Default: when no rule matches, [`CapSet::evaluate`] returns `None`** — the policies express no
//!   decision and the caller's configured default applies (Portcullis admits, as an unselected pod is
//!   admitted). End a policy with a bare `- action: Reject` rule to make it default-deny.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::selector::Selector;
use crate::{Action, Error, Verdict};

/// An image's scan status as rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScanStatus {
    /// Policy evaluation passed with GO.
    Pass,
    /// Policy evaluation passed with WARN.
    Warn,
    /// Policy evaluation failed (STOP).
    Fail,
    /// Not scanned or no verdict.
    Unknown,
}

impl ScanStatus {
    /// The status a verdict gives (no verdict: `Unknown`).
    pub fn from_verdict(v: Option<&Verdict>) -> ScanStatus {
        match v.map(|v| v.final_action) {
            Some(Action::Go) => ScanStatus::Pass,
            Some(Action::Warn) => ScanStatus::Warn,
            Some(Action::Stop) => ScanStatus::Fail,
            None => ScanStatus::Unknown,
        }
    }
}

/// An image's signature status as rules see it (`imageSignatureStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignatureStatus {
    /// At least one signature verified.
    Verified,
    /// Verification ran (or could not finish) and no signature verified.
    Unverified,
    /// The image was not verified.
    Unknown,
}

impl SignatureStatus {
    /// The status recorded verification facts give (none: `Unknown`).
    pub fn from_facts(f: Option<&portcullis_verify::SignatureFacts>) -> SignatureStatus {
        match f {
            None => SignatureStatus::Unknown,
            Some(f) if f.signed() => SignatureStatus::Verified,
            Some(_) => SignatureStatus::Unverified,
        }
    }
}

/// What the rules look at about one image.
#[derive(Debug, Clone, Copy)]
pub struct CapImage<'a> {
    /// The image reference.
    pub image: &'a str,
    /// Its policy evaluation status.
    pub scan_status: ScanStatus,
    /// When it was last evaluated.
    pub last_scan: Option<DateTime<Utc>>,
    /// Its signature status.
    pub signature: SignatureStatus,
}

/// A rule's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CapAction {
    /// Admit.
    Allow,
    /// Deny.
    Reject,
}

/// The decision of the first matching rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapDecision {
    /// Allow or Reject.
    pub action: CapAction,
    /// Name of the policy whose rule matched.
    pub policy: String,
    /// Index of the rule in that policy.
    pub rule: usize,
    /// Human-readable explanation.
    pub reason: String,
}

#[derive(Debug, Deserialize)]
struct Doc {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    spec: Option<SpecDoc>,
    #[serde(default)]
    items: Option<Vec<serde_json::Value>>,
}

#[derive(Debug, Default, Deserialize)]
struct Meta {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SpecDoc {
    #[serde(default)]
    selector: Option<String>,
    #[serde(default)]
    namespace_selector: Option<String>,
    #[serde(default)]
    order: Option<f64>,
    #[serde(default)]
    rules: Vec<RuleDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RuleDoc {
    action: String,
    #[serde(default)]
    image_path: Option<ListCond>,
    #[serde(default)]
    image_scan_status: Option<ListCond>,
    #[serde(default)]
    image_last_scan: Option<TimeCond>,
    #[serde(default)]
    image_signature_status: Option<ListCond>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListCond {
    operator: String,
    #[serde(default)]
    values: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeCond {
    operator: String,
    #[serde(default)]
    duration: Option<DurationDoc>,
    #[serde(default)]
    time: Option<String>,
}

/// The longest `imageLastScan.duration` accepted (about 100 years): larger values would overflow the
/// time arithmetic (`Duration::days` panics past about 10^14 days).
const MAX_SCAN_AGE_DAYS: i64 = 36_500;

/// The duration `d`, when it is within [`MAX_SCAN_AGE_DAYS`] either way.
fn scan_age(d: &DurationDoc) -> Option<Duration> {
    let total = Duration::try_days(d.days)?
        .checked_add(&Duration::try_hours(d.hours)?)?
        .checked_add(&Duration::try_minutes(d.minutes)?)?
        .checked_add(&Duration::try_seconds(d.seconds)?)?;
    (total.abs() <= Duration::days(MAX_SCAN_AGE_DAYS)).then_some(total)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DurationDoc {
    #[serde(default)]
    days: i64,
    #[serde(default)]
    hours: i64,
    #[serde(default)]
    minutes: i64,
    #[serde(default)]
    seconds: i64,
}

#[derive(Debug)]
enum When {
    Ago(Duration),
    At(DateTime<Utc>),
}

#[derive(Debug)]
struct Rule {
    action: CapAction,
    /// (is_one_of, regexes)
    path: Option<(bool, Vec<Regex>)>,
    status: Option<(bool, Vec<ScanStatus>)>,
    /// (greater_than, reference)
    last_scan: Option<(bool, When)>,
    signature: Option<(bool, Vec<SignatureStatus>)>,
}

#[derive(Debug)]
struct Policy {
    name: String,
    selector: Selector,
    namespace_selector: Selector,
    order: Option<f64>,
    rules: Vec<Rule>,
}

/// A set of ContainerAdmissionPolicies, sorted for evaluation.
#[derive(Debug, Default)]
pub struct CapSet {
    policies: Vec<Policy>,
}

fn is_one_of(policy: &str, what: &str, op: &str) -> Result<bool, Error> {
    match op {
        "IsOneOf" => Ok(true),
        "IsNoneOf" => Ok(false),
        other => Err(Error::Cap {
            policy: policy.into(),
            message: format!("{what}: operator `{other}` is not IsOneOf or IsNoneOf"),
        }),
    }
}

impl CapSet {
    /// Parses one or more YAML documents (`---`-separated), each a ContainerAdmissionPolicy, a `List` or a
    /// sequence of them.
    pub fn from_yaml(text: &str) -> Result<CapSet, Error> {
        let mut docs = Vec::new();
        for (i, d) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            let v = serde_json::Value::deserialize(d).map_err(|e| Error::Parse {
                what: format!("ContainerAdmissionPolicy YAML document {}", i + 1),
                path: ".".into(),
                message: e.to_string(),
            })?;
            match v {
                serde_json::Value::Null => {}
                serde_json::Value::Array(items) => docs.extend(items),
                v => docs.push(v),
            }
        }
        CapSet::from_values(docs)
    }

    /// Parses a JSON ContainerAdmissionPolicy, a `List` of them, or a JSON array of them.
    pub fn from_json(text: &str) -> Result<CapSet, Error> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::Parse {
            what: "ContainerAdmissionPolicy JSON".into(),
            path: format!("line {} column {}", e.line(), e.column()),
            message: e.to_string(),
        })?;
        match v {
            serde_json::Value::Array(items) => CapSet::from_values(items),
            v => CapSet::from_values(vec![v]),
        }
    }

    fn from_values(values: Vec<serde_json::Value>) -> Result<CapSet, Error> {
        let mut set = CapSet::default();
        let mut queue = values;
        let mut idx = 0usize;
        while let Some(v) = (!queue.is_empty()).then(|| queue.remove(0)) {
            idx += 1;
            let doc: Doc = serde_path_to_error::deserialize(v).map_err(|e| Error::Parse {
                what: format!("ContainerAdmissionPolicy #{idx}"),
                path: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
            if let Some(items) = doc.items {
                queue.extend(items);
                continue;
            }
            if let Some(kind) = doc.kind.as_deref()
                && kind != "ContainerAdmissionPolicy"
            {
                return Err(Error::Cap {
                    policy: format!("#{idx}"),
                    message: format!("kind `{kind}` is not ContainerAdmissionPolicy"),
                });
            }
            let name = doc.metadata.name.unwrap_or_else(|| format!("#{idx}"));
            let spec = doc.spec.ok_or_else(|| Error::Cap {
                policy: name.clone(),
                message: "has no `spec`".into(),
            })?;
            set.policies.push(compile(name, spec)?);
        }
        set.policies.sort_by(|a, b| {
            let key = |p: &Policy| p.order.unwrap_or(f64::INFINITY);
            key(a)
                .partial_cmp(&key(b))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(set)
    }

    /// Number of policies.
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// True when there are no policies.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// Decides an image of an object: the first matching rule of the applicable policies, or `None` when no
    /// rule matches (see the module documentation for the default). The signature status is `Unknown`; see
    /// [`CapSet::evaluate_image`].
    pub fn evaluate(
        &self,
        ns_labels: &BTreeMap<String, String>,
        obj_labels: &BTreeMap<String, String>,
        image: &str,
        scan_status: ScanStatus,
        last_scan: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<CapDecision> {
        let img = CapImage {
            image,
            scan_status,
            last_scan,
            signature: SignatureStatus::Unknown,
        };
        self.evaluate_image(ns_labels, obj_labels, &img, now)
    }

    /// Decides an image of an object, with everything the rules can look at (its signature status too).
    pub fn evaluate_image(
        &self,
        ns_labels: &BTreeMap<String, String>,
        obj_labels: &BTreeMap<String, String>,
        img: &CapImage<'_>,
        now: DateTime<Utc>,
    ) -> Option<CapDecision> {
        let CapImage {
            image,
            scan_status,
            last_scan,
            signature,
        } = *img;
        for p in &self.policies {
            if !p.selector.matches(obj_labels) || !p.namespace_selector.matches(ns_labels) {
                continue;
            }
            for (i, r) in p.rules.iter().enumerate() {
                if let Some((one_of, res)) = &r.path
                    && res.iter().any(|re| re.is_match(image)) != *one_of
                {
                    continue;
                }
                if let Some((one_of, sts)) = &r.status
                    && sts.contains(&scan_status) != *one_of
                {
                    continue;
                }
                if let Some((one_of, sts)) = &r.signature
                    && sts.contains(&signature) != *one_of
                {
                    continue;
                }
                if let Some((gt, when)) = &r.last_scan {
                    let reference = match when {
                        When::Ago(d) => now - *d,
                        When::At(t) => *t,
                    };
                    let ok = match last_scan {
                        None => false,
                        Some(t) if *gt => t > reference,
                        Some(t) => t < reference,
                    };
                    if !ok {
                        continue;
                    }
                }
                return Some(CapDecision {
                    action: r.action,
                    policy: p.name.clone(),
                    rule: i,
                    reason: if r.signature.is_some() {
                        format!(
                            "ContainerAdmissionPolicy {} rule {i} ({:?}) matched image {image} (scan status {scan_status:?}, signature {signature:?})",
                            p.name, r.action
                        )
                    } else {
                        format!(
                            "ContainerAdmissionPolicy {} rule {i} ({:?}) matched image {image} (scan status {scan_status:?})",
                            p.name, r.action
                        )
                    },
                });
            }
        }
        None
    }
}

fn compile(name: String, spec: SpecDoc) -> Result<Policy, Error> {
    let err = |message: String| Error::Cap {
        policy: name.clone(),
        message,
    };
    let selector = Selector::parse(spec.selector.as_deref().unwrap_or(""))
        .map_err(|e| err(format!("`spec.selector`: {e}")))?;
    let namespace_selector = Selector::parse(spec.namespace_selector.as_deref().unwrap_or(""))
        .map_err(|e| err(format!("`spec.namespaceSelector`: {e}")))?;
    let mut rules = Vec::new();
    for (i, r) in spec.rules.into_iter().enumerate() {
        let at = |m: String| err(format!("`spec.rules[{i}]`: {m}"));
        let action = match r.action.as_str() {
            "Allow" => CapAction::Allow,
            "Reject" => CapAction::Reject,
            other => return Err(at(format!("action `{other}` is not Allow or Reject"))),
        };
        let path = match r.image_path {
            None => None,
            Some(c) => {
                let one = is_one_of(&name, &format!("spec.rules[{i}].imagePath"), &c.operator)?;
                let res = c
                    .values
                    .iter()
                    .map(|v| {
                        crate::pattern::user_regex(v).map_err(|e| {
                            at(format!("imagePath value `{v}` is not a valid regex: {e}"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Some((one, res))
            }
        };
        let status = match r.image_scan_status {
            None => None,
            Some(c) => {
                let one = is_one_of(
                    &name,
                    &format!("spec.rules[{i}].imageScanStatus"),
                    &c.operator,
                )?;
                let sts = c
                    .values
                    .iter()
                    .map(|v| match v.as_str() {
                        "Pass" => Ok(ScanStatus::Pass),
                        "Warn" => Ok(ScanStatus::Warn),
                        "Fail" => Ok(ScanStatus::Fail),
                        "Unknown" => Ok(ScanStatus::Unknown),
                        other => Err(at(format!(
                            "imageScanStatus value `{other}` is not Pass, Warn, Fail or Unknown"
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Some((one, sts))
            }
        };
        let signature = match r.image_signature_status {
            None => None,
            Some(c) => {
                let one = is_one_of(
                    &name,
                    &format!("spec.rules[{i}].imageSignatureStatus"),
                    &c.operator,
                )?;
                let sts = c
                    .values
                    .iter()
                    .map(|v| match v.as_str() {
                        "Verified" => Ok(SignatureStatus::Verified),
                        "Unverified" => Ok(SignatureStatus::Unverified),
                        "Unknown" => Ok(SignatureStatus::Unknown),
                        other => Err(at(format!(
                            "imageSignatureStatus value `{other}` is not Verified, Unverified or Unknown"
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Some((one, sts))
            }
        };
        let last_scan = match r.image_last_scan {
            None => None,
            Some(c) => {
                let gt = match c.operator.to_ascii_lowercase().as_str() {
                    "gt" => true,
                    "lt" => false,
                    other => {
                        return Err(at(format!(
                            "imageLastScan operator `{other}` is not gt or lt"
                        )));
                    }
                };
                let when = match (c.duration, c.time) {
                    (Some(d), None) => When::Ago(scan_age(&d).ok_or_else(|| {
                        at(format!(
                            "imageLastScan duration {d:?} is out of range: at most \
                             {MAX_SCAN_AGE_DAYS} days in total; give a shorter duration"
                        ))
                    })?),
                    (None, Some(t)) => When::At(
                        DateTime::parse_from_rfc3339(&t)
                            .map_err(|e| {
                                at(format!("imageLastScan time `{t}` is not RFC 3339: {e}"))
                            })?
                            .with_timezone(&Utc),
                    ),
                    _ => {
                        return Err(at(
                            "imageLastScan needs exactly one of `duration` or `time`".into(),
                        ));
                    }
                };
                Some((gt, when))
            }
        };
        rules.push(Rule {
            action,
            path,
            status,
            last_scan,
            signature,
        });
    }
    Ok(Policy {
        name,
        selector,
        namespace_selector,
        order: spec.order,
        rules,
    })
}
