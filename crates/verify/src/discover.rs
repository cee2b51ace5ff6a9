//! Finding signature layers: the cosign tag `sha256-<hex>.sig` and the OCI 1.1 referrers API.

use std::collections::BTreeMap;

use portcullis_image::{Client, Error as ImageError, ImageRef, Referrers};
use serde::Deserialize;

use crate::{Candidate, Error, Limits, SIMPLE_SIGNING};

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: i64,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// What to look for: signatures (`.sig`, simple signing) or attestations (`.att`, DSSE envelopes).
#[derive(Clone, Copy)]
pub(crate) struct Kind {
    /// The cosign tag suffix (`sig`, `att`).
    pub suffix: &'static str,
    /// The layer media type of a candidate.
    pub media_type: &'static str,
    /// What to call it in notes.
    pub noun: &'static str,
}

/// Signatures.
pub(crate) const SIGNATURES: Kind = Kind {
    suffix: "sig",
    media_type: SIMPLE_SIGNING,
    noun: "signature",
};

/// All candidate signature layers of `pinned` (a reference pinned by digest), at most `max_signatures`.
pub(crate) async fn candidates(
    client: &Client,
    pinned: &ImageRef,
    limits: &Limits,
    notes: &mut Vec<String>,
    kind: Kind,
) -> Result<Vec<Candidate>, Error> {
    let digest = pinned.digest.clone().unwrap_or_default();
    let mut out = Vec::new();
    let mut report = Notes { notes };
    let report = &mut report;
    // The cosign tag convention.
    let tag = format!("{}.{}", digest.replacen(':', "-", 1), kind.suffix);
    let tag_ref = ImageRef {
        tag: Some(tag.clone()),
        digest: None,
        ..pinned.clone()
    };
    match client
        .fetch_manifest_bounded(&tag_ref, limits.max_manifest)
        .await
    {
        Ok((bytes, _)) => layers(&format!("tag {tag}"), &bytes, true, kind, &mut out, report),
        Err(ImageError::NotFound { .. }) => {
            report.notes.push(format!("no {} tag {tag}", kind.noun))
        }
        Err(e @ (ImageError::Unreachable { .. } | ImageError::Auth { .. })) => return Err(e.into()),
        Err(e) => report
            .notes
            .push(format!("{} tag {tag} refused: {e}", kind.noun)),
    }
    // The OCI 1.1 referrers API, or (where the registry lacks it) the spec's fallback: an index under the tag
    // `sha256-<hex>` listing the referrers.
    let listed = match client.referrers(pinned).await {
        Ok(Referrers::Listed(descs)) => descs
            .into_iter()
            .map(|d| (d.digest, d.size))
            .collect::<Vec<_>>(),
        Ok(Referrers::Unsupported) => {
            report
                .notes
                .push("the registry does not serve the OCI 1.1 referrers API".into());
            let fallback = digest.replacen(':', "-", 1);
            let index_ref = ImageRef {
                tag: Some(fallback.clone()),
                digest: None,
                ..pinned.clone()
            };
            match client
                .fetch_manifest_bounded(&index_ref, limits.max_manifest)
                .await
            {
                Ok((bytes, _)) => match serde_json::from_slice::<Index>(&bytes) {
                    Ok(i) => i
                        .manifests
                        .into_iter()
                        .map(|d| (d.digest, d.size))
                        .collect(),
                    Err(e) => {
                        report
                            .notes
                            .push(format!("referrers tag {fallback}: not an image index: {e}"));
                        Vec::new()
                    }
                },
                Err(ImageError::NotFound { .. }) => Vec::new(),
                Err(e) => {
                    report
                        .notes
                        .push(format!("referrers tag {fallback} refused: {e}"));
                    Vec::new()
                }
            }
        }
        Err(e) => {
            report.notes.push(format!("referrers query failed: {e}"));
            Vec::new()
        }
    };
    if listed.len() > limits.max_referrers {
        report.notes.push(format!(
            "{} referrers listed; only the first {} examined",
            listed.len(),
            limits.max_referrers
        ));
    }
    for (d, size) in listed.iter().take(limits.max_referrers) {
        let source = format!("referrer {d}");
        if *size < 0 || *size as usize > limits.max_manifest {
            report.notes.push(format!(
                "{source} declares {size} bytes, more than the {} allowed; not fetched",
                limits.max_manifest
            ));
            continue;
        }
        match client
            .fetch_manifest_bounded(&pinned.with_digest(d), limits.max_manifest)
            .await
        {
            Ok((bytes, _)) => layers(&source, &bytes, false, kind, &mut out, report),
            Err(e) => report.notes.push(format!("{source} refused: {e}")),
        }
    }
    if out.len() > limits.max_signatures {
        report.notes.push(format!(
            "{} {} layers found; only the first {} examined",
            out.len(),
            kind.noun,
            limits.max_signatures
        ));
        out.truncate(limits.max_signatures);
    }
    Ok(out)
}

struct Notes<'a> {
    notes: &'a mut Vec<String>,
}

/// Adds the simple-signing layers of one manifest; notes other layers when `note_others` (a manifest under
/// the signature tag should hold nothing else; referrers may be SBOMs or attestations).
fn layers(
    source: &str,
    bytes: &[u8],
    note_others: bool,
    kind: Kind,
    out: &mut Vec<Candidate>,
    report: &mut Notes<'_>,
) {
    let m: Manifest = match serde_json::from_slice(bytes) {
        Ok(m) => m,
        Err(e) => {
            report
                .notes
                .push(format!("{source}: not an image manifest: {e}"));
            return;
        }
    };
    for l in m.layers {
        if l.media_type != kind.media_type {
            if !note_others {
                continue;
            }
            report.notes.push(format!(
                "{source}: layer {} has media type `{}`, not `{}`; ignored",
                l.digest, l.media_type, kind.media_type
            ));
            continue;
        }
        out.push(Candidate {
            source: source.to_string(),
            layer: l.digest,
            size: l.size,
            annotations: l.annotations,
        });
    }
}
