//! Image references with Docker's normalisation.
//!
//! The grammar and the normalisation (`nginx` → `docker.io/library/nginx:latest`, `index.docker.io` →
//! `docker.io`, `host:port/repo`) come from `oci-spec`'s port of distribution's reference package; this module
//! adds precise error messages, since that parser answers most failures with a bare "invalid reference format".
//!
//! Every reference is brought to one canonical form, so that rules written against it cannot be walked around by
//! spelling the same image differently: Docker Hub's aliases (`registry-1.docker.io`, `registry.hub.docker.com`,
//! `index.docker.io`) become `docker.io`, the host is lower-cased and an explicit `:443` is dropped.

use std::fmt;

use oci_client::{ParseError, Reference};
use serde::{Deserialize, Serialize};

use crate::Error;

/// A fully normalised image reference: `docker.io/library/nginx:latest`, `host:5000/repo@sha256:…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageRef {
    /// Registry host (and port), e.g. `docker.io`, `127.0.0.1:5000`.
    pub registry: String,
    /// Repository path, e.g. `library/nginx`.
    pub repository: String,
    /// Tag, when given (defaults to `latest` when neither tag nor digest is given).
    pub tag: Option<String>,
    /// Digest, `sha256:…`, when given.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses and normalises a reference (`nginx` → `docker.io/library/nginx:latest`).
    pub fn parse(s: &str) -> Result<ImageRef, Error> {
        let bad = |reason: String| Error::InvalidReference {
            input: s.to_string(),
            reason,
        };
        if s.trim().is_empty() {
            return Err(bad(
                "the reference is empty; give e.g. `nginx:1.27` or `registry:5000/repo@sha256:…`"
                    .into(),
            ));
        }
        if s.chars().any(char::is_whitespace) {
            return Err(bad("it contains whitespace".into()));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(bad(format!(
                "a reference has no URL scheme; drop `{scheme}://` (plain HTTP is chosen with the insecure-registry setting)"
            )));
        }
        match Reference::try_from(s) {
            Ok(r) => {
                let registry = canonical_registry(r.registry());
                let mut repository = r.repository().to_string();
                if registry == DOCKER_HUB && !repository.contains('/') {
                    repository.insert_str(0, "library/");
                }
                Ok(ImageRef {
                    registry,
                    repository,
                    tag: r.tag().map(str::to_string),
                    digest: r.digest().map(str::to_string),
                })
            }
            Err(e) => Err(bad(explain(s, e))),
        }
    }

    /// The registry host to contact: Docker Hub's API lives at `index.docker.io`.
    pub fn api_registry(&self) -> &str {
        if self.registry == DOCKER_HUB {
            "index.docker.io"
        } else {
            &self.registry
        }
    }

    /// The string to ask the registry for: the digest when there is one, else the tag.
    pub fn tag_or_digest(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// `registry/repository:tag`, with tag `latest` when none is given and any digest left out: the key a tag
    /// is cached and recorded under.
    pub fn tag_key(&self) -> String {
        format!(
            "{}/{}:{}",
            self.registry,
            self.repository,
            self.tag.as_deref().unwrap_or("latest")
        )
    }

    /// The same repository pinned to `digest` (keeping the tag for display).
    pub fn with_digest(&self, digest: &str) -> ImageRef {
        ImageRef {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ImageRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageRef::parse(s)
    }
}

/// Docker Hub's canonical registry name.
const DOCKER_HUB: &str = "docker.io";

/// Other names Docker Hub answers to; a reference naming one of them means the same images as `docker.io`.
const DOCKER_HUB_ALIASES: [&str; 3] = [
    "index.docker.io",
    "registry-1.docker.io",
    "registry.hub.docker.com",
];

/// The one spelling of a registry host: lower-case, no explicit `:443` (HTTPS's default port), Docker Hub's
/// aliases folded into `docker.io`.
pub fn canonical_registry(host: &str) -> String {
    let mut h = host.to_ascii_lowercase();
    if let Some(stripped) = h.strip_suffix(":443") {
        h = stripped.to_string();
    }
    if DOCKER_HUB_ALIASES.contains(&h.as_str()) {
        h = DOCKER_HUB.to_string();
    }
    h
}

/// Turns the parser's terse error into a message that says what is wrong and how to fix it.
fn explain(s: &str, e: ParseError) -> String {
    let (name_tag, digest) = match s.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (s, None),
    };
    let last_slash = name_tag.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => (
            &name_tag[..last_slash + i],
            Some(&name_tag[last_slash + i + 1..]),
        ),
        None => (name_tag, None),
    };
    match e {
        ParseError::DigestInvalidFormat => {
            "the digest must be `algorithm:hex`, e.g. `sha256:` followed by 64 hex digits".into()
        }
        ParseError::DigestInvalidLength => {
            "the digest has the wrong length (sha256 needs 64 hex digits)".into()
        }
        ParseError::DigestUnsupported => {
            "unsupported digest algorithm (use sha256, sha384 or sha512)".into()
        }
        ParseError::NameTooLong => "the repository name is longer than 255 characters".into(),
        ParseError::NameEmpty => "the repository name is empty".into(),
        ParseError::NameContainsUppercase => "the repository name must be lowercase".into(),
        ParseError::TagInvalidFormat | ParseError::ReferenceInvalidFormat => {
            if let Some(d) = digest {
                let (alg, hex) = d.split_once(':').unwrap_or(("", ""));
                if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return format!(
                        "the digest `{d}` must be `algorithm:hex`, e.g. `sha256:` followed by 64 hex digits"
                    );
                }
                let want = match alg {
                    "sha256" => 64,
                    "sha384" => 96,
                    "sha512" => 128,
                    _ => {
                        return format!(
                            "unsupported digest algorithm `{alg}` (use sha256, sha384 or sha512)"
                        );
                    }
                };
                if hex.len() != want {
                    return format!(
                        "the digest `{d}` has the wrong length ({alg} needs {want} hex digits, got {})",
                        hex.len()
                    );
                }
            }
            if let Some(t) = tag {
                let ok = !t.is_empty()
                    && t.len() <= 128
                    && t.chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                    && t.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
                if !ok {
                    return format!(
                        "the tag `{t}` is invalid: up to 128 characters of letters, digits, `_`, `.`, `-`, not starting with `.` or `-`"
                    );
                }
            }
            let path = match name.split_once('/') {
                Some((first, rest))
                    if first.contains('.') || first.contains(':') || first == "localhost" =>
                {
                    rest
                }
                _ => name,
            };
            if path.chars().any(|c| c.is_ascii_uppercase()) {
                return format!("the repository name `{path}` must be lowercase");
            }
            if path.is_empty() || path.split('/').any(str::is_empty) {
                return format!("the repository name `{path}` has an empty path component");
            }
            format!(
                "the repository name `{path}` is invalid: components are lowercase letters and digits, separated by `.`, `_`, `__` or `-`"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        ImageRef::parse(s).unwrap().to_string()
    }

    #[test]
    fn docker_normalisation() {
        assert_eq!(norm("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(norm("nginx:1.27"), "docker.io/library/nginx:1.27");
        assert_eq!(norm("bitnami/nginx"), "docker.io/bitnami/nginx:latest");
        assert_eq!(
            norm("index.docker.io/library/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            norm("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            norm("localhost/foo/bar:1"),
            "localhost/foo/bar:1",
            "localhost is a registry"
        );
        assert_eq!(norm("127.0.0.1:5000/a/b"), "127.0.0.1:5000/a/b:latest");
        assert_eq!(norm("quay.io/x/y:v1.0_rc-2"), "quay.io/x/y:v1.0_rc-2");
        // `test.com:5000` without a slash is a tag on docker hub, as in Docker.
        assert_eq!(norm("test.com:5000"), "docker.io/library/test.com:5000");
    }

    #[test]
    fn aliases_case_and_default_port_have_one_spelling() {
        for written in [
            "registry-1.docker.io/library/nginx:1.27",
            "registry.hub.docker.com/library/nginx:1.27",
            "index.docker.io/library/nginx:1.27",
            "Registry-1.Docker.IO/library/nginx:1.27",
            "docker.io:443/library/nginx:1.27",
            "registry-1.docker.io:443/nginx:1.27",
            "INDEX.DOCKER.IO/nginx:1.27",
        ] {
            assert_eq!(norm(written), "docker.io/library/nginx:1.27", "{written}");
        }
        assert_eq!(norm("Quay.IO:443/org/app:1"), "quay.io/org/app:1");
        assert_eq!(norm("Reg.Example.com/a/b"), "reg.example.com/a/b:latest");
        assert_eq!(
            norm("reg.example.com:4430/a"),
            "reg.example.com:4430/a:latest",
            "only exactly :443 is the default port"
        );
        assert_eq!(norm("127.0.0.1:5000/app:1"), "127.0.0.1:5000/app:1");
        let r = ImageRef::parse("registry-1.docker.io/bitnami/nginx").unwrap();
        assert_eq!(r.api_registry(), "index.docker.io");
        assert_eq!(r.repository, "bitnami/nginx");
    }

    #[test]
    fn digests_and_tag_plus_digest() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("reg:5000/app@{d}")).unwrap();
        assert_eq!(r.registry, "reg:5000");
        assert_eq!(r.repository, "app");
        assert_eq!(r.tag, None, "a digest-only reference gets no default tag");
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert_eq!(r.to_string(), format!("reg:5000/app@{d}"));
        assert_eq!(r.tag_or_digest(), d);

        let r = ImageRef::parse(&format!("nginx:1.27@{d}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("1.27"));
        assert_eq!(r.to_string(), format!("docker.io/library/nginx:1.27@{d}"));
        assert_eq!(r.tag_or_digest(), d, "the digest wins over the tag");
        assert_eq!(r.api_registry(), "index.docker.io");
    }

    fn err(s: &str) -> String {
        match ImageRef::parse(s) {
            Ok(r) => panic!("{s} parsed as {r}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn invalid_references_say_why() {
        assert!(err("").contains("empty"), "{}", err(""));
        assert!(
            err("Nginx").contains("must be lowercase"),
            "{}",
            err("Nginx")
        );
        assert!(err("quay.io/Org/x").contains("`Org/x` must be lowercase"));
        assert!(err("nginx:-bad").contains("tag `-bad` is invalid"));
        assert!(err("nginx:").contains("tag `` is invalid"));
        assert!(err("nginx@sha256:abc").contains("wrong length"));
        assert!(err("nginx@md5:0123456789abcdef0123456789abcdef").contains("unsupported digest"));
        assert!(err("nginx@sha256:zz").contains("digest `sha256:zz`"));
        assert!(err("https://quay.io/x").contains("no URL scheme"));
        assert!(err("a//b").contains("empty path component"));
        assert!(err("my image").contains("whitespace"));
        assert!(err(&format!("x/{}", "a".repeat(300))).contains("255"));
        let e = err("Nginx");
        assert!(e.contains("`Nginx`"), "error names the input: {e}");
    }
}
