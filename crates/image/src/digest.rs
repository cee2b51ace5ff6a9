//! [`Digest`]: a validated content digest, `algorithm:hex` (OCI image spec "digests"), so the seams that pass
//! digests around parse them once.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A content digest: `sha256`, `sha384` or `sha512`, a colon, and the right number of lowercase hex digits.
/// Safe to use as a file name and in a URL path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

/// Why a digest string is not a [`Digest`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} is not an image digest: {reason}")]
pub struct DigestError {
    /// The text given (cut to 100 characters).
    pub given: String,
    /// What is wrong and what is expected.
    pub reason: &'static str,
}

impl Digest {
    /// Validates `s`: `sha256:` + 64, `sha384:` + 96 or `sha512:` + 128 lowercase hex digits.
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let fail = |reason| DigestError {
            given: s.chars().take(100).collect(),
            reason,
        };
        let (alg, hex) = s.split_once(':').ok_or_else(|| {
            fail("expected `algorithm:hex`, e.g. `sha256:` followed by 64 lowercase hex digits")
        })?;
        let want = match alg {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            _ => return Err(fail("unsupported algorithm (use sha256, sha384 or sha512)")),
        };
        if hex.len() != want {
            return Err(fail(
                "wrong length (sha256 needs 64, sha384 96, sha512 128 hex digits)",
            ));
        }
        if !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(fail("the hex part must be lowercase hex digits"));
        }
        Ok(Digest(s.to_string()))
    }

    /// As [`Digest::parse`], accepting only `sha256` (the only algorithm blobs are stored under).
    pub fn parse_sha256(s: &str) -> Result<Digest, DigestError> {
        let d = Digest::parse(s)?;
        if d.algorithm() != "sha256" {
            return Err(DigestError {
                given: s.chars().take(100).collect(),
                reason: "only sha256 digests are supported here: expected `sha256:` followed by 64 lowercase hex digits",
            });
        }
        Ok(d)
    }

    /// The `sha256` digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        use sha2::Digest as _;
        Digest(format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(bytes))
        ))
    }

    /// The whole digest, `sha256:…`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `sha256`, `sha384` or `sha512`.
    pub fn algorithm(&self) -> &str {
        self.0.split_once(':').map(|(a, _)| a).unwrap_or_default()
    }

    /// The hex digits after the colon.
    pub fn hex(&self) -> &str {
        self.0.split_once(':').map(|(_, h)| h).unwrap_or_default()
    }

    /// The digest as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Digest {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Digest {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn valid_digests_parse_and_print_back() {
        let d = Digest::parse(D).unwrap();
        assert_eq!(d.to_string(), D);
        assert_eq!(d.algorithm(), "sha256");
        assert_eq!(d.hex().len(), 64);
        assert_eq!(Digest::parse_sha256(D).unwrap(), d);
        let long = format!("sha512:{}", "ab".repeat(64));
        assert_eq!(Digest::parse(&long).unwrap().algorithm(), "sha512");
        assert!(Digest::parse_sha256(&long).is_err());
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{D}\""));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
        assert_eq!(
            Digest::sha256_of(b"").as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn malformed_digests_say_what_is_wrong() {
        let err = |s: &str| Digest::parse(s).unwrap_err().to_string();
        assert!(err("sha256").contains("algorithm:hex"));
        assert!(err("md5:0123456789abcdef0123456789abcdef").contains("unsupported algorithm"));
        assert!(err("sha256:abc").contains("wrong length"));
        assert!(err(&D.to_uppercase().replace("SHA256", "sha256")).contains("lowercase"));
        assert!(err("sha256:../../../../etc/passwd").contains("wrong length"));
        let huge = format!("sha256:{}", "a".repeat(10_000));
        let e = Digest::parse(&huge).unwrap_err();
        assert!(e.given.len() <= 100, "the message stays short");
        assert!(serde_json::from_str::<Digest>("\"sha256:zz\"").is_err());
    }
}
