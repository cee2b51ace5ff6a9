//! A builder for the [`Package`] values tests feed to the matcher, the policy gates and the engine, so that a
//! new field of `Package` is added here once instead of in every test's struct literal.

use portcullis_sbom::{Package, PackageType};

/// Starts a package of type `package_type` named `name` at `version`; every other field is empty (no purl,
/// no source, no licences, no files, an empty location) until set.
pub fn package(package_type: PackageType, name: &str, version: &str) -> PackageBuilder {
    PackageBuilder(Package {
        name: name.into(),
        version: version.into(),
        package_type,
        purl: String::new(),
        source_name: None,
        source_version: None,
        arch: None,
        licenses: vec![],
        location: String::new(),
        files: vec![],
        layer: None,
    })
}

/// A [`Package`] being built; see [`package`].
#[derive(Debug, Clone)]
#[must_use = "call .build() to get the Package"]
pub struct PackageBuilder(Package);

impl PackageBuilder {
    /// Sets the package URL.
    pub fn purl(mut self, purl: impl Into<String>) -> Self {
        self.0.purl = purl.into();
        self
    }

    /// Sets the source package name (dpkg `Source`, apk `origin`).
    pub fn source(mut self, name: impl Into<String>) -> Self {
        self.0.source_name = Some(name.into());
        self
    }

    /// Sets the source package version.
    pub fn source_version(mut self, version: impl Into<String>) -> Self {
        self.0.source_version = Some(version.into());
        self
    }

    /// Sets the architecture.
    pub fn arch(mut self, arch: impl Into<String>) -> Self {
        self.0.arch = Some(arch.into());
        self
    }

    /// Sets the licences.
    pub fn licenses<S: Into<String>>(mut self, licenses: impl IntoIterator<Item = S>) -> Self {
        self.0.licenses = licenses.into_iter().map(Into::into).collect();
        self
    }

    /// Sets where the package record was found.
    pub fn location(mut self, location: impl Into<String>) -> Self {
        self.0.location = location.into();
        self
    }

    /// Sets the files the package owns.
    pub fn files<S: Into<String>>(mut self, files: impl IntoIterator<Item = S>) -> Self {
        self.0.files = files.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the digest of the layer the record came from.
    pub fn layer(mut self, digest: impl Into<String>) -> Self {
        self.0.layer = Some(digest.into());
        self
    }

    /// The package.
    pub fn build(self) -> Package {
        self.0
    }
}

impl From<PackageBuilder> for Package {
    fn from(b: PackageBuilder) -> Package {
        b.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_fields_are_empty_and_set_ones_are_kept() {
        let p = package(PackageType::Deb, "openssl", "3.0.11-1")
            .source("openssl-src")
            .licenses(["Apache-2.0"])
            .files(["/usr/bin/openssl"])
            .location("/var/lib/dpkg/status")
            .build();
        assert_eq!(p.name, "openssl");
        assert_eq!(p.version, "3.0.11-1");
        assert_eq!(p.package_type, PackageType::Deb);
        assert_eq!(p.source_name.as_deref(), Some("openssl-src"));
        assert_eq!(p.licenses, ["Apache-2.0"]);
        assert_eq!(p.files, ["/usr/bin/openssl"]);
        assert_eq!(p.location, "/var/lib/dpkg/status");
        assert_eq!(p.purl, "");
        assert_eq!((p.arch, p.layer, p.source_version), (None, None, None));
    }
}
