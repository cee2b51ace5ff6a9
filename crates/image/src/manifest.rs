//! Manifests, indexes and image configurations (OCI and Docker schema 2), as far as analysis needs them.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{Error, HistoryEntry, ImageConfig, LayerInfo, Platform};

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Every manifest media type we accept, for `Accept` headers.
pub const ACCEPTED: &[&str] = &[OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST];

/// A content descriptor.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the content.
    #[serde(default)]
    pub media_type: String,
    /// `sha256:…`.
    pub digest: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Platform (index entries).
    #[serde(default)]
    pub platform: Option<PlatformJson>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// The `platform` of an index entry.
#[derive(Debug, Clone, Deserialize)]
pub struct PlatformJson {
    /// OS.
    #[serde(default)]
    pub os: String,
    /// Architecture.
    #[serde(default)]
    pub architecture: String,
    /// Variant.
    #[serde(default)]
    pub variant: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<i64>,
    #[serde(default)]
    media_type: Option<String>,
    manifests: Option<Vec<Descriptor>>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    fs_layers: Option<serde_json::Value>,
}

/// A parsed manifest document.
#[derive(Debug, Clone)]
pub enum Parsed {
    /// An OCI index or Docker manifest list.
    Index(Vec<Descriptor>),
    /// An image manifest.
    Manifest {
        /// The config blob.
        config: Descriptor,
        /// The layers, base first.
        layers: Vec<Descriptor>,
    },
}

/// Parses a manifest or index; Docker schema 1 is refused with an explanation.
pub fn parse(image: &str, bytes: &[u8], content_type: Option<&str>) -> Result<Parsed, Error> {
    let bad = |reason: String| Error::Manifest {
        image: image.to_string(),
        reason,
    };
    if content_type.is_some_and(|c| c.contains("distribution.manifest.v1")) {
        return Err(bad(schema1()));
    }
    let raw: RawManifest = serde_json::from_slice(bytes)
        .map_err(|e| bad(format!("manifest is not valid JSON: {e}")))?;
    if raw.schema_version == Some(1) || raw.fs_layers.is_some() {
        return Err(bad(schema1()));
    }
    if let Some(m) = raw.manifests {
        return Ok(Parsed::Index(m));
    }
    match (raw.config, raw.layers) {
        (Some(config), Some(layers)) => Ok(Parsed::Manifest { config, layers }),
        _ => Err(bad(format!(
            "manifest of media type {} has neither `manifests` nor `config`+`layers`",
            raw.media_type.as_deref().unwrap_or("(none)")
        ))),
    }
}

fn schema1() -> String {
    "Docker image manifest schema 1 is not supported (deprecated since Docker 1.10); re-push the image with a current Docker, buildah or skopeo to get a schema 2 / OCI manifest".into()
}

/// Picks the index entry for `want`: same OS and architecture, and the same variant when one is asked for.
pub fn select_platform<'a>(
    image: &str,
    manifests: &'a [Descriptor],
    want: &Platform,
) -> Result<&'a Descriptor, Error> {
    let fits = |d: &&Descriptor| {
        d.platform.as_ref().is_some_and(|p| {
            p.os == want.os
                && p.architecture == want.architecture
                && (want.variant.is_none() || p.variant == want.variant)
        })
    };
    if let Some(d) = manifests.iter().find(fits) {
        return Ok(d);
    }
    let available: Vec<String> = manifests
        .iter()
        .filter_map(|d| d.platform.as_ref())
        .filter(|p| p.os != "unknown")
        .map(|p| {
            format!(
                "{}/{}{}",
                p.os,
                p.architecture,
                p.variant
                    .as_deref()
                    .map(|v| format!("/{v}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    Err(Error::NoPlatform {
        image: image.to_string(),
        wanted: format!(
            "{}/{}{}",
            want.os,
            want.architecture,
            want.variant
                .as_deref()
                .map(|v| format!("/{v}"))
                .unwrap_or_default()
        ),
        available: if available.is_empty() {
            "none".into()
        } else {
            available.join(", ")
        },
    })
}

/// Picks the index entries for each of `wanted` (in `wanted` order, each entry once): a platform the index lacks
/// is skipped; an index offering none of them is [`Error::NoPlatform`]. Returns each entry with the platform it
/// was selected for.
pub fn select_platforms<'a>(
    image: &str,
    manifests: &'a [Descriptor],
    wanted: &[Platform],
) -> Result<Vec<(Platform, &'a Descriptor)>, Error> {
    let mut out: Vec<(Platform, &Descriptor)> = Vec::new();
    let mut last_err = None;
    for w in wanted {
        match select_platform(image, manifests, w) {
            Ok(d) if !out.iter().any(|(_, o)| o.digest == d.digest) => out.push((w.clone(), d)),
            Ok(_) => {}
            Err(e) => last_err = Some(e),
        }
    }
    if out.is_empty() {
        let wanted_list: Vec<String> = wanted.iter().map(Platform::to_string).collect();
        return Err(match last_err {
            Some(Error::NoPlatform { available, .. }) => Error::NoPlatform {
                image: image.to_string(),
                wanted: wanted_list.join(", "),
                available,
            },
            Some(e) => e,
            None => Error::Manifest {
                image: image.to_string(),
                reason: "no platform to select from the index was configured".into(),
            },
        });
    }
    Ok(out)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct RawContainerConfig {
    labels: Option<BTreeMap<String, String>>,
    env: Option<Vec<String>>,
    user: Option<String>,
    exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    working_dir: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawHistory {
    created: Option<String>,
    created_by: Option<String>,
    comment: Option<String>,
    empty_layer: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawRootfs {
    diff_ids: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawConfig {
    os: String,
    architecture: String,
    variant: Option<String>,
    created: Option<String>,
    config: Option<RawContainerConfig>,
    rootfs: RawRootfs,
    history: Option<Vec<RawHistory>>,
}

/// Parses an image configuration blob; returns it with its `rootfs.diff_ids`.
pub fn parse_config(image: &str, bytes: &[u8]) -> Result<(ImageConfig, Vec<String>), Error> {
    let raw: RawConfig = serde_json::from_slice(bytes).map_err(|e| Error::Manifest {
        image: image.to_string(),
        reason: format!("image configuration is not valid JSON: {e}"),
    })?;
    let c = raw.config.unwrap_or_default();
    let cfg = ImageConfig {
        os: raw.os,
        architecture: raw.architecture,
        variant: raw.variant.filter(|v| !v.is_empty()),
        created: raw.created,
        labels: c.labels.unwrap_or_default(),
        env: c.env.unwrap_or_default(),
        user: c.user.filter(|u| !u.is_empty()),
        exposed_ports: c.exposed_ports.unwrap_or_default().into_keys().collect(),
        entrypoint: c.entrypoint.unwrap_or_default(),
        cmd: c.cmd.unwrap_or_default(),
        working_dir: c.working_dir.filter(|w| !w.is_empty()),
        history: raw
            .history
            .unwrap_or_default()
            .into_iter()
            .map(|h| HistoryEntry {
                created: h.created,
                created_by: h.created_by,
                comment: h.comment,
                empty_layer: h.empty_layer.unwrap_or(false),
            })
            .collect(),
    };
    Ok((cfg, raw.rootfs.diff_ids))
}

/// Layer infos from manifest descriptors and config diff ids. The config must list exactly one diff id per
/// layer (OCI image spec, `rootfs.diff_ids`): each layer's uncompressed content is verified against it.
pub fn layer_infos(
    image: &str,
    layers: &[Descriptor],
    diff_ids: &[String],
) -> Result<Vec<LayerInfo>, Error> {
    if diff_ids.len() != layers.len() {
        return Err(Error::Manifest {
            image: image.to_string(),
            reason: format!(
                "the config lists {} diff_ids (rootfs.diff_ids) but the manifest {} layers; the image is malformed",
                diff_ids.len(),
                layers.len()
            ),
        });
    }
    Ok(layers
        .iter()
        .zip(diff_ids)
        .map(|(d, diff_id)| LayerInfo {
            digest: d.digest.clone(),
            diff_id: Some(diff_id.clone()),
            size: d.size,
            media_type: d.media_type.clone(),
        })
        .collect())
}

/// `sha256:…` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    crate::Digest::sha256_of(bytes).into_string()
}

/// Checks that `digest` is a well-formed sha256 digest (so it is safe to use as a file name).
pub fn check_digest<'a>(image: &str, digest: &'a str) -> Result<&'a str, Error> {
    match crate::Digest::parse_sha256(digest) {
        Ok(_) => Ok(&digest["sha256:".len()..]),
        Err(_) => Err(Error::Manifest {
            image: image.to_string(),
            reason: format!("`{digest}` is not a sha256 digest (only sha256 content is supported)"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema1_is_refused_with_advice() {
        // Shape of a real signed schema 1 manifest (registry:2 era), abbreviated.
        let v1 = br#"{"schemaVersion":1,"name":"library/busybox","tag":"1.0","architecture":"amd64",
            "fsLayers":[{"blobSum":"sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"}],
            "history":[{"v1Compatibility":"{}"}],"signatures":[]}"#;
        let e = parse("r/busybox:1.0", v1, None).unwrap_err().to_string();
        assert!(
            e.contains("schema 1 is not supported") && e.contains("re-push"),
            "{e}"
        );
        let e = parse(
            "x",
            b"{}",
            Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("schema 1"), "{e}");
    }

    #[test]
    fn several_platforms_are_selected_and_none_is_an_error() {
        let index = br#"{"schemaVersion":2,"manifests":[
            {"digest":"sha256:aaaa","platform":{"os":"linux","architecture":"amd64"}},
            {"digest":"sha256:bbbb","platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
            {"digest":"sha256:cccc","platform":{"os":"unknown","architecture":"unknown"}}]}"#;
        let Parsed::Index(m) = parse("img", index, None).unwrap() else {
            panic!("an index")
        };
        let p = |s: &str| Platform::parse(s).unwrap();
        let got: Vec<(String, String)> = select_platforms(
            "img",
            &m,
            &[p("linux/arm64"), p("linux/s390x"), p("linux/amd64")],
        )
        .unwrap()
        .into_iter()
        .map(|(p, d)| (p.to_string(), d.digest.clone()))
        .collect();
        assert_eq!(
            got,
            [
                ("linux/arm64".to_string(), "sha256:bbbb".to_string()),
                ("linux/amd64".to_string(), "sha256:aaaa".to_string())
            ]
        );
        let e = select_platforms("img", &m, &[p("windows/amd64"), p("linux/ppc64le")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("windows/amd64, linux/ppc64le") && e.contains("linux/amd64, linux/arm64/v8"),
            "{e}"
        );
    }

    #[test]
    fn manifests_indexes_and_garbage() {
        let m = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},
            "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32654,"digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"}]}"#;
        match parse("x", m, None).unwrap() {
            Parsed::Manifest { config, layers } => {
                assert_eq!(config.size, 7023);
                assert_eq!(layers.len(), 1);
            }
            other => panic!("{other:?}"),
        }
        let e = parse("img", b"<html>", None).unwrap_err().to_string();
        assert!(
            e.contains("image img") && e.contains("not valid JSON"),
            "{e}"
        );
        let e = parse("img", br#"{"schemaVersion":2}"#, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("neither"), "{e}");
        assert!(check_digest("i", "sha256:../../etc/passwd").is_err());
        assert!(check_digest("i", &format!("sha256:{}", "a".repeat(64))).is_ok());
    }
}
