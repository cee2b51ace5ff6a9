//! Interpreting command-line image sources.

use std::path::{Path, PathBuf};

use crate::{Error, ImageRef, Source};

impl Source {
    /// Interprets a command-line source: an existing directory with `oci-layout` → OCI layout; another existing
    /// directory → root filesystem; an existing file → docker archive; anything else → registry reference.
    /// Explicit prefixes win: `registry:`, `oci-dir:PATH[:NAME]`, `docker-archive:PATH[:TAG]`, `dir:PATH`.
    pub fn parse(s: &str) -> Result<Source, Error> {
        let bad = |reason: String| Error::InvalidSource {
            input: s.to_string(),
            reason,
        };
        if let Some(r) = s.strip_prefix("registry:") {
            return Ok(Source::Registry(ImageRef::parse(r)?));
        }
        if let Some(rest) = s.strip_prefix("oci-dir:") {
            let (path, name) = split_path_name(rest);
            if !path.join("oci-layout").is_file() {
                return Err(bad(format!(
                    "`{}` is not an OCI image layout directory (it has no `oci-layout` file)",
                    path.display()
                )));
            }
            return Ok(Source::OciLayout(path, name));
        }
        if let Some(rest) = s.strip_prefix("docker-archive:") {
            let (path, name) = split_path_name(rest);
            if !path.is_file() {
                return Err(bad(format!(
                    "`{}` is not a file (give a `docker save` tar archive)",
                    path.display()
                )));
            }
            return Ok(Source::DockerArchive(path, name));
        }
        if let Some(rest) = s.strip_prefix("dir:") {
            let path = PathBuf::from(rest);
            if !path.is_dir() {
                return Err(bad(format!("`{rest}` is not a directory")));
            }
            return Ok(Source::Dir(path));
        }
        let path = Path::new(s);
        if path.is_dir() {
            if path.join("oci-layout").is_file() {
                return Ok(Source::OciLayout(path.to_path_buf(), None));
            }
            return Ok(Source::Dir(path.to_path_buf()));
        }
        if path.is_file() {
            return Ok(Source::DockerArchive(path.to_path_buf(), None));
        }
        match ImageRef::parse(s) {
            Ok(r) => Ok(Source::Registry(r)),
            Err(e) if s.starts_with('/') || s.starts_with('.') => Err(bad(format!(
                "no such file or directory, and not an image reference either ({e})"
            ))),
            Err(e) => Err(e),
        }
    }
}

/// Splits `PATH[:NAME]`: the whole string when it names an existing path, else the part before the last `:`.
fn split_path_name(s: &str) -> (PathBuf, Option<String>) {
    if Path::new(s).exists() {
        return (PathBuf::from(s), None);
    }
    // Names may contain `:` themselves (`example.com/app:v1`): split at the first colon after an existing path.
    for (i, _) in s.match_indices(':') {
        let (p, n) = (&s[..i], &s[i + 1..]);
        if !n.is_empty() && Path::new(p).exists() {
            return (PathBuf::from(p), Some(n.to_string()));
        }
    }
    (PathBuf::from(s), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_sources() {
        let d = tempfile::tempdir().unwrap();
        let rootfs = d.path().join("rootfs");
        std::fs::create_dir(&rootfs).unwrap();
        let oci = d.path().join("oci");
        std::fs::create_dir(&oci).unwrap();
        std::fs::write(oci.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let tar = d.path().join("img.tar");
        std::fs::write(&tar, b"").unwrap();
        let s = |x: &std::path::Path| x.to_str().unwrap().to_string();

        assert_eq!(
            Source::parse(&s(&rootfs)).unwrap(),
            Source::Dir(rootfs.clone())
        );
        assert_eq!(
            Source::parse(&s(&oci)).unwrap(),
            Source::OciLayout(oci.clone(), None)
        );
        assert_eq!(
            Source::parse(&s(&tar)).unwrap(),
            Source::DockerArchive(tar.clone(), None)
        );
        assert_eq!(
            Source::parse(&format!("oci-dir:{}:v1", s(&oci))).unwrap(),
            Source::OciLayout(oci.clone(), Some("v1".into()))
        );
        assert_eq!(
            Source::parse(&format!("docker-archive:{}:example.com/app:1", s(&tar))).unwrap(),
            Source::DockerArchive(tar.clone(), Some("example.com/app:1".into())),
            "names with colons split at the first colon after the existing path"
        );
        assert_eq!(
            Source::parse(&format!("docker-archive:{}:app", s(&tar))).unwrap(),
            Source::DockerArchive(tar.clone(), Some("app".into()))
        );
        assert_eq!(
            Source::parse(&format!("dir:{}", s(&rootfs))).unwrap(),
            Source::Dir(rootfs.clone())
        );
        match Source::parse("nginx").unwrap() {
            Source::Registry(r) => assert_eq!(r.to_string(), "docker.io/library/nginx:latest"),
            other => panic!("{other:?}"),
        }
        match Source::parse("registry:127.0.0.1:5000/x").unwrap() {
            Source::Registry(r) => assert_eq!(r.registry, "127.0.0.1:5000"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_sources_say_why() {
        let e = Source::parse("oci-dir:/nonexistent")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no `oci-layout`"), "{e}");
        let e = Source::parse("dir:/nonexistent").unwrap_err().to_string();
        assert!(e.contains("`/nonexistent` is not a directory"), "{e}");
        let e = Source::parse("docker-archive:/nonexistent.tar")
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not a file"), "{e}");
        let e = Source::parse("/nonexistent/Path").unwrap_err().to_string();
        assert!(e.contains("no such file or directory"), "{e}");
    }
}
