//! Anchore's name patterns (`*` wildcards, `regexp:` prefixes) and the image-tag split that mappings match on.

use regex::{Regex, RegexBuilder};

/// The most memory a regular expression from a bundle or policy may compile to, in bytes: a short pattern
/// with counted repetitions (`(?:x{1000}){1000}`) compiles to far more; the `regex` crate refuses it with
/// "exceeds size limit" instead of allocating. (Its lazy DFA cache is bounded by the crate's default.)
pub(crate) const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Compiles a regular expression written by a bundle or policy author, within [`REGEX_SIZE_LIMIT`] (the
/// crate's default nesting limit, 250, bounds its parser's recursion).
pub(crate) fn user_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// A registry / repository / tag / trigger-id pattern as Anchore bundles write them.
#[derive(Debug, Clone)]
pub(crate) enum Pattern {
    /// `*`: matches everything.
    Any,
    /// No wildcard: string equality.
    Exact(String),
    /// `*` wildcards: the literal parts around them.
    Glob(Glob),
    /// A `regexp:` pattern, compiled.
    Regex(Regex),
}

/// A pattern whose only metacharacter is `*` (any run of characters), kept as its literal parts.
///
/// Hand-written rather than compiled to a regex or taken from a glob crate: allowlist items are matched
/// against every fired trigger id of every evaluation, and comparing literal parts is several times cheaper
/// than running a regex automaton; glob crates (`globset`, `wildmatch`) also give `?` and `[…]` meanings
/// Anchore's patterns do not have.
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    /// The text between the `*`s, in order (at least two parts: there is at least one `*`).
    parts: Vec<String>,
}

impl Glob {
    fn new(raw: &str) -> Glob {
        Glob {
            parts: raw.split('*').map(str::to_string).collect(),
        }
    }

    /// True when `s` is the first part, anything, each middle part in order, anything, the last part.
    /// Taking the leftmost occurrence of each middle part is exact for `*`-only patterns: any later
    /// occurrence leaves less room for the parts after it.
    fn matches(&self, s: &str) -> bool {
        let [first, middle @ .., last] = self.parts.as_slice() else {
            return s.is_empty();
        };
        let Some(rest) = s.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some(mut rest) = rest.strip_suffix(last.as_str()) else {
            return false;
        };
        for part in middle {
            match rest.find(part.as_str()) {
                Some(i) => rest = &rest[i + part.len()..],
                None => return false,
            }
        }
        true
    }
}

impl Pattern {
    /// Compiles a pattern: `regexp:<re>` is a regular expression matched at the start of the input (Python's
    /// `re.match`, as anchore-engine does); otherwise `*` matches any run of characters and the rest literally.
    pub(crate) fn new(raw: &str) -> Result<Pattern, String> {
        if raw == "*" {
            return Ok(Pattern::Any);
        }
        if let Some(re) = raw.strip_prefix("regexp:") {
            return user_regex(&format!("^(?:{re})"))
                .map(Pattern::Regex)
                .map_err(|e| format!("invalid `regexp:` pattern `{re}`: {e}"));
        }
        if !raw.contains('*') {
            return Ok(Pattern::Exact(raw.to_string()));
        }
        Ok(Pattern::Glob(Glob::new(raw)))
    }

    /// True when `s` matches.
    pub(crate) fn matches(&self, s: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(e) => e == s,
            Pattern::Glob(g) => g.matches(s),
            Pattern::Regex(r) => r.is_match(s),
        }
    }
}

/// An image reference split the way anchore-engine's mapping rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TagParts {
    /// Registry host (`docker.io` when none is given).
    pub registry: String,
    /// Repository path as written (`library/` is added or removed by [`TagParts::repo_candidates`]).
    pub repo: String,
    /// Tag, when the reference has one (`latest` when it has neither tag nor digest).
    pub tag: Option<String>,
    /// Digest, when the reference is pinned (`repo@sha256:…`).
    pub digest: Option<String>,
}

impl TagParts {
    /// Splits `[registry/]repo[:tag][@digest]`. Hand-written rather than taken from `portcullis_image::ImageRef`
    /// because Anchore's mapping semantics keep Docker Hub repositories both with and without `library/` and
    /// never fail on odd input (a mapping simply does not match).
    pub(crate) fn parse(reference: &str) -> TagParts {
        let s = reference.trim().replace("dockerhub/", "docker.io/");
        let (name, digest) = match s.split_once('@') {
            Some((n, d)) => (n.to_string(), Some(d.to_string())),
            None => (s.clone(), None),
        };
        let (registry, rest) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => ("docker.io".to_string(), name.clone()),
        };
        let registry = if registry == "index.docker.io" || registry == "registry-1.docker.io" {
            "docker.io".to_string()
        } else {
            registry
        };
        let (repo, tag) = match rest.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r.to_string(), Some(t.to_string())),
            _ => (rest.clone(), None),
        };
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_string())
        } else {
            tag
        };
        TagParts {
            registry,
            repo,
            tag,
            digest,
        }
    }

    /// The repository names a pattern may match: on Docker Hub both `alpine` and `library/alpine`.
    pub(crate) fn repo_candidates(&self) -> Vec<String> {
        let mut out = vec![self.repo.clone()];
        if self.registry == "docker.io" {
            if let Some(short) = self.repo.strip_prefix("library/") {
                out.push(short.to_string());
            } else if !self.repo.contains('/') {
                out.push(format!("library/{}", self.repo));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_regexp() {
        assert!(Pattern::new("*").unwrap().matches("anything"));
        let p = Pattern::new("library/*").unwrap();
        assert!(p.matches("library/alpine"));
        assert!(!p.matches("myorg/alpine"));
        let p = Pattern::new("CVE-2023-*+openssl").unwrap();
        assert!(p.matches("CVE-2023-0286+openssl"));
        assert!(!p.matches("CVE-2023-0286+openssl-libs"));
        let p = Pattern::new("regexp:v[0-9]+\\.").unwrap();
        assert!(p.matches("v1.2"));
        assert!(!p.matches("xv1.2"));
        assert!(Pattern::new("regexp:(").is_err());
        let p = Pattern::new("a*b*a").unwrap();
        assert!(p.matches("aba") && p.matches("abba") && p.matches("a-b-b-a"));
        assert!(!p.matches("ab") && !p.matches("aab") && !p.matches("bab"));
        let p = Pattern::new("CVE-*").unwrap();
        assert!(p.matches("CVE-") && p.matches("CVE-1+x") && !p.matches("CVE"));
        let p = Pattern::new("*+openssl").unwrap();
        assert!(p.matches("CVE-1+openssl") && !p.matches("CVE-1+openssl-libs"));
        assert!(Pattern::new("**").unwrap().matches(""));
        assert!(Pattern::new("a?b").unwrap().matches("a?b"));
        assert!(!Pattern::new("a?*").unwrap().matches("axb"));
        assert!(Pattern::new("a.b").unwrap().matches("a.b"));
        assert!(!Pattern::new("a.b").unwrap().matches("axb"));
    }

    #[test]
    fn tag_split() {
        let t = TagParts::parse("alpine");
        assert_eq!(t.registry, "docker.io");
        assert_eq!(t.tag.as_deref(), Some("latest"));
        assert_eq!(t.repo_candidates(), vec!["alpine", "library/alpine"]);
        let t = TagParts::parse("localhost:5000/team/app:1.2");
        assert_eq!(
            (t.registry.as_str(), t.repo.as_str(), t.tag.as_deref()),
            ("localhost:5000", "team/app", Some("1.2"))
        );
        let t = TagParts::parse("quay.io/x/y@sha256:abc");
        assert_eq!(t.tag, None);
        assert_eq!(t.digest.as_deref(), Some("sha256:abc"));
    }
}
