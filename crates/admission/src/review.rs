//! AdmissionReview requests (`admission.k8s.io/v1` and `v1beta1`) and the responses sent back.
//!
//! The request is parsed into typed structs that keep only what admission needs (metadata, container images);
//! serde skips everything else without building a tree, which keeps parsing of a 6 KB review in the microseconds.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// The AdmissionReview API version a request arrived in; the response is sent in the same version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ApiVersion {
    /// `admission.k8s.io/v1`.
    #[serde(rename = "admission.k8s.io/v1")]
    V1,
    /// `admission.k8s.io/v1beta1` (clusters older than 1.16 and some proxies).
    #[serde(rename = "admission.k8s.io/v1beta1")]
    V1beta1,
}

impl ApiVersion {
    /// The `apiVersion` string.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "admission.k8s.io/v1",
            ApiVersion::V1beta1 => "admission.k8s.io/v1beta1",
        }
    }
}

/// Why a body is not a usable AdmissionReview. The server answers these with HTTP 400.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// The body is not JSON, or a field has the wrong type.
    #[error("request body is not a valid AdmissionReview: {0}")]
    Json(serde_json::Error),
    /// `kind` is not `AdmissionReview`.
    #[error(
        "kind is {0:?}, expected \"AdmissionReview\"; point the webhook at /validate or /mutate only"
    )]
    WrongKind(String),
    /// `apiVersion` is not one this server answers.
    #[error(
        "apiVersion is {0:?}; supported: \"admission.k8s.io/v1\", \"admission.k8s.io/v1beta1\" (set admissionReviewVersions in the webhook configuration)"
    )]
    WrongApiVersion(String),
    /// The review has no `request`.
    #[error("AdmissionReview has no \"request\" object; the API server always sends one")]
    MissingRequest,
    /// The request has no (or an empty) `uid`.
    #[error(
        "AdmissionReview.request has no \"uid\"; the response must echo it, so the request cannot be answered"
    )]
    MissingUid,
}

/// Group/version/kind of the object under review.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupVersionKind {
    /// API group (`""` for the core group, `apps`, `batch`).
    #[serde(default)]
    pub group: String,
    /// Version (`v1`, `v1beta1`).
    #[serde(default)]
    pub version: String,
    /// Kind (`Pod`, `Deployment`).
    #[serde(default)]
    pub kind: String,
}

/// Group/version/resource of the request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupVersionResource {
    /// API group.
    #[serde(default)]
    pub group: String,
    /// Version.
    #[serde(default)]
    pub version: String,
    /// Resource (`pods`, `deployments`).
    #[serde(default)]
    pub resource: String,
}

/// The operation being admitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Operation {
    /// A new object.
    Create,
    /// A changed object (`oldObject` holds the previous state).
    Update,
    /// A deletion.
    Delete,
    /// A connect (exec, attach, port-forward).
    Connect,
}

impl Operation {
    /// The name the API server writes (`CREATE`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

/// Who sent the request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// User name.
    #[serde(default)]
    pub username: String,
    /// Groups.
    #[serde(default, deserialize_with = "null_default")]
    pub groups: Vec<String>,
}

/// An ownerReference of the object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    /// Owner `apiVersion`, e.g. `apps/v1`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub api_version: String,
    /// Owner kind.
    #[serde(default)]
    pub kind: String,
    /// Owner uid.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub uid: String,
    /// Owner name.
    #[serde(default)]
    pub name: String,
    /// True for the managing controller.
    #[serde(default, deserialize_with = "null_default")]
    pub controller: bool,
}

/// The parts of `metadata` admission uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Name (may be empty with `generateName`).
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Namespace; often absent on CREATE, then the request's namespace applies.
    #[serde(default, deserialize_with = "null_default")]
    pub namespace: String,
    /// Uid (empty on CREATE).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub uid: String,
    /// Labels.
    #[serde(default, deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, deserialize_with = "null_default")]
    pub annotations: BTreeMap<String, String>,
    /// Owner references.
    #[serde(default, deserialize_with = "null_default")]
    pub owner_references: Vec<OwnerReference>,
}

/// A container (regular, init or ephemeral): only its name and image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    /// Container name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Image reference as written in the manifest; `None` when the field is absent.
    #[serde(default)]
    pub image: Option<String>,
}

/// A `spec` of any workload kind. One recursive shape covers them all: a Pod spec has containers, a controller
/// spec has `template.spec`, a CronJob spec has `jobTemplate.spec.template.spec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    /// `containers`.
    #[serde(default, deserialize_with = "null_default")]
    pub containers: Vec<Container>,
    /// `initContainers`.
    #[serde(default, deserialize_with = "null_default")]
    pub init_containers: Vec<Container>,
    /// `ephemeralContainers`.
    #[serde(default, deserialize_with = "null_default")]
    pub ephemeral_containers: Vec<Container>,
    /// `template` (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, ReplicationController).
    #[serde(default)]
    pub template: Option<Box<Template>>,
    /// `jobTemplate` (CronJob).
    #[serde(default)]
    pub job_template: Option<Box<Template>>,
    /// `imagePullSecrets` of a Pod spec (names of Secrets in the object's namespace).
    #[serde(default, deserialize_with = "null_default")]
    pub image_pull_secrets: Vec<NameRef>,
    /// `serviceAccountName` of a Pod spec (empty: `default`).
    #[serde(default, deserialize_with = "null_default")]
    pub service_account_name: String,
}

/// A reference by name (`imagePullSecrets` entries).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameRef {
    /// The name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
}

impl Spec {
    /// The Pod spec inside this spec: itself for a Pod, `template.spec` for controllers and Jobs,
    /// `jobTemplate.spec.template.spec` for CronJobs.
    pub fn pod_spec(&self) -> &Spec {
        for t in [&self.template, &self.job_template].into_iter().flatten() {
            if let Some(spec) = &t.spec {
                return spec.pod_spec();
            }
        }
        self
    }
}

/// A pod or job template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// Template metadata.
    #[serde(default)]
    pub metadata: Option<ObjectMeta>,
    /// Template spec.
    #[serde(default)]
    pub spec: Option<Spec>,
}

/// The object (or old object) under review.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Object {
    /// `apiVersion` of the object.
    #[serde(default, deserialize_with = "null_default")]
    pub api_version: String,
    /// `kind` of the object.
    #[serde(default, deserialize_with = "null_default")]
    pub kind: String,
    /// Metadata.
    #[serde(default, deserialize_with = "null_default")]
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(default)]
    pub spec: Option<Spec>,
}

/// `AdmissionReview.request`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// Request uid, echoed in the response.
    #[serde(default, deserialize_with = "null_default")]
    pub uid: String,
    /// Kind of the object.
    #[serde(default)]
    pub kind: GroupVersionKind,
    /// Resource.
    #[serde(default)]
    pub resource: GroupVersionResource,
    /// Subresource (`ephemeralcontainers`, `status`, …).
    #[serde(default)]
    pub sub_resource: Option<String>,
    /// Object name.
    #[serde(default)]
    pub name: Option<String>,
    /// Namespace of the request.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Operation.
    pub operation: Operation,
    /// Who asked.
    #[serde(default)]
    pub user_info: UserInfo,
    /// The new object (absent on DELETE).
    #[serde(default)]
    pub object: Option<Object>,
    /// The previous object (UPDATE, DELETE).
    #[serde(default)]
    pub old_object: Option<Object>,
    /// Server-side dry run: no side effects allowed.
    #[serde(default, deserialize_with = "null_default")]
    pub dry_run: bool,
}

/// A parsed AdmissionReview request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// The version it arrived in.
    pub api_version: ApiVersion,
    /// The request.
    pub request: Request,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawReview {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    request: Option<Request>,
}

/// Deserialises `null` as the type's default (Kubernetes clients sometimes send `null` for empty lists/maps).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl Review {
    /// Parses an AdmissionReview body. Errors name what is wrong and where (serde's line/column for bad JSON).
    pub fn parse(body: &[u8]) -> Result<Review, ReviewError> {
        let raw: RawReview = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => {
                // Say the most useful thing first: a body of the wrong kind or version fails on fields it
                // does not have, but its kind/apiVersion is the real problem. (Only on the error path.)
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Head {
                    kind: Option<String>,
                    api_version: Option<String>,
                }
                if let Ok(h) = serde_json::from_slice::<Head>(body) {
                    if h.kind.as_deref() != Some("AdmissionReview") {
                        return Err(ReviewError::WrongKind(
                            h.kind.unwrap_or_else(|| "<missing>".into()),
                        ));
                    }
                    if !matches!(
                        h.api_version.as_deref(),
                        Some("admission.k8s.io/v1" | "admission.k8s.io/v1beta1")
                    ) {
                        return Err(ReviewError::WrongApiVersion(
                            h.api_version.unwrap_or_else(|| "<missing>".into()),
                        ));
                    }
                }
                return Err(ReviewError::Json(e));
            }
        };
        match raw.kind.as_deref() {
            Some("AdmissionReview") => {}
            other => {
                return Err(ReviewError::WrongKind(
                    other.unwrap_or("<missing>").to_string(),
                ));
            }
        }
        let api_version = match raw.api_version.as_deref() {
            Some("admission.k8s.io/v1") => ApiVersion::V1,
            Some("admission.k8s.io/v1beta1") => ApiVersion::V1beta1,
            other => {
                return Err(ReviewError::WrongApiVersion(
                    other.unwrap_or("<missing>").to_string(),
                ));
            }
        };
        let request = raw.request.ok_or(ReviewError::MissingRequest)?;
        if request.uid.is_empty() {
            return Err(ReviewError::MissingUid);
        }
        Ok(Review {
            api_version,
            request,
        })
    }

    /// The namespace the object lives in: the object's own, else the request's, else `default`.
    pub fn namespace(&self) -> &str {
        let from_obj = self
            .request
            .object
            .as_ref()
            .map(|o| o.metadata.namespace.as_str())
            .filter(|s| !s.is_empty());
        from_obj
            .or(self.request.namespace.as_deref().filter(|s| !s.is_empty()))
            .unwrap_or("default")
    }

    /// A short `kind namespace/name` description of the object, for messages and logs.
    pub fn describe(&self) -> String {
        let name = self
            .request
            .object
            .as_ref()
            .map(|o| o.metadata.name.as_str())
            .filter(|s| !s.is_empty())
            .or(self.request.name.as_deref())
            .unwrap_or("<generated>");
        let sub = self
            .request
            .sub_resource
            .as_deref()
            .map(|s| format!("/{s}"))
            .unwrap_or_default();
        format!(
            "{}{} {}/{}",
            self.request.kind.kind,
            sub,
            self.namespace(),
            name
        )
    }
}

/// `response.status` of a denial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// HTTP-style code (403 for a policy denial, 400 for an unusable object).
    pub code: u16,
    /// The message `kubectl` prints.
    pub message: String,
}

/// `AdmissionReview.response`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// The request uid.
    pub uid: String,
    /// Whether the request is admitted.
    pub allowed: bool,
    /// Denial status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Warnings shown by `kubectl` (each ≤ 120 characters).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Audit annotations (keys are prefixed by the API server with the webhook name).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub audit_annotations: BTreeMap<String, String>,
    /// `JSONPatch` when a patch is present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    /// Base64 of the JSON patch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutReview<'a> {
    api_version: &'static str,
    kind: &'static str,
    response: &'a Response,
}

impl Response {
    /// Serialises the full AdmissionReview that carries this response, in `version`.
    pub fn to_review_json(&self, version: ApiVersion) -> Vec<u8> {
        let out = OutReview {
            api_version: version.as_str(),
            kind: "AdmissionReview",
            response: self,
        };
        // Serialising plain structs of strings, bools and maps of strings cannot fail.
        serde_json::to_vec(&out).unwrap_or_default()
    }
}

/// Parses a Go duration as the API server writes it (`10s`, `1m30s`, `500ms`), e.g. the webhook's `?timeout=`.
pub fn parse_go_duration(s: &str) -> Option<std::time::Duration> {
    let mut total = std::time::Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += std::time::Duration::try_from_secs_f64(n * scale).ok()?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_precise() {
        assert!(matches!(
            Review::parse(b"{not json"),
            Err(ReviewError::Json(_))
        ));
        let e = Review::parse(br#"{"kind":"Pod","apiVersion":"v1"}"#).unwrap_err();
        assert!(e.to_string().contains("\"Pod\""), "{e}");
        let e = Review::parse(br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v2"}"#)
            .unwrap_err();
        assert!(matches!(e, ReviewError::WrongApiVersion(ref v) if v == "admission.k8s.io/v2"));
        let e = Review::parse(br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"}"#)
            .unwrap_err();
        assert!(matches!(e, ReviewError::MissingRequest));
        let e = Review::parse(
            br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"operation":"CREATE"}}"#,
        )
        .unwrap_err();
        assert!(matches!(e, ReviewError::MissingUid));
        let e = Review::parse(
            br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"u","operation":"CREATE","object":{"spec":{"containers":"nope"}}}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("line 1 column"), "{e}");
    }

    #[test]
    fn nulls_are_empty() {
        let r = Review::parse(
            br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1beta1","request":{"uid":"u","operation":"DELETE","object":null,"oldObject":{"metadata":{"labels":null},"spec":{"containers":null}}}}"#,
        )
        .unwrap();
        assert_eq!(r.api_version, ApiVersion::V1beta1);
        assert!(r.request.object.is_none());
        assert_eq!(r.namespace(), "default");
    }

    #[test]
    fn operation_names_are_the_serde_names() {
        for o in [
            Operation::Create,
            Operation::Update,
            Operation::Delete,
            Operation::Connect,
        ] {
            assert_eq!(serde_json::to_value(&o).unwrap().as_str(), Some(o.as_str()));
        }
    }

    #[test]
    fn go_durations() {
        assert_eq!(
            parse_go_duration("10s"),
            Some(std::time::Duration::from_secs(10))
        );
        assert_eq!(
            parse_go_duration("1m30s"),
            Some(std::time::Duration::from_secs(90))
        );
        assert_eq!(
            parse_go_duration("500ms"),
            Some(std::time::Duration::from_millis(500))
        );
        assert_eq!(parse_go_duration("abc"), None);
        assert_eq!(parse_go_duration(""), None);
        assert_eq!(parse_go_duration("10"), None);
    }
}
