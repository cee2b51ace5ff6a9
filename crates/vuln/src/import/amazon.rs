//! Amazon Linux `updateinfo.xml` (the yum repository's ALAS list, usually `updateinfo.xml.gz`):
//! `<updates><update><id>ALAS2023-2023-001</id><severity>…</severity><references><reference type="cve"
//! id="CVE-…"/>…<pkglist><collection short="amazon-linux-2023"><package name epoch version release/>…`.
//! Each package of an update is fixed at its `[epoch:]version-release`; the collection names the release
//! (`amazon-linux-ami` → `amazon:1`, `amazon-linux-2…` → `amazon:2`, `amazon-linux-2023…` → `amazon:2023`).

use roxmltree::{Document, Node, ParsingOptions};

use super::{Collector, File, Importer, check_version};
use crate::model::{Affected, Range, VulnInfo, severity_from_word};
use crate::{FixState, Scheme};

/// An Amazon Linux updateinfo file: an `.xml` file whose root element is `<updates>` with ALAS updates.
pub(super) struct UpdateInfo;

impl Importer for UpdateInfo {
    fn name(&self) -> &'static str {
        "amazon-updateinfo"
    }

    fn detect(&self, f: &File<'_>) -> bool {
        let head = &f.bytes[..f.bytes.len().min(4096)];
        let head = String::from_utf8_lossy(head);
        f.base.ends_with(".xml") && head.contains("<updates") && head.contains("<id>ALAS")
    }

    fn import(&self, f: &File<'_>, c: &mut Collector) {
        let Ok(text) = std::str::from_utf8(f.bytes) else {
            return c.bad(f.name, None, "updateinfo is not UTF-8");
        };
        // no DTDs: entity expansion is off, so the document cannot grow past the (already bounded) file
        let opts = ParsingOptions {
            allow_dtd: false,
            ..ParsingOptions::default()
        };
        let doc = match Document::parse_with_options(text, opts) {
            Ok(d) => d,
            Err(e) => return c.bad(f.name, None, format!("invalid updateinfo XML: {e}")),
        };
        for u in doc
            .root_element()
            .children()
            .filter(|n| n.has_tag_name("update"))
        {
            c.count("amazon-updateinfo");
            let Some(id) = child_text(u, "id") else {
                c.bad(f.name, None, "update without <id>");
                continue;
            };
            let severity = child_text(u, "severity").and_then(|s| severity_from_word(&s));
            let cves: Vec<String> = u
                .descendants()
                .filter(|n| n.has_tag_name("reference") && n.attribute("type") == Some("cve"))
                .filter_map(|n| n.attribute("id").map(str::to_string))
                .collect();
            for col in u.descendants().filter(|n| n.has_tag_name("collection")) {
                let short = col.attribute("short").unwrap_or_default();
                let Some(ns) = collection_namespace(short) else {
                    c.bad(f.name, Some(&id), format!("unknown collection `{short}`"));
                    continue;
                };
                for p in col.children().filter(|n| n.has_tag_name("package")) {
                    let (Some(name), Some(ver), Some(rel)) = (
                        p.attribute("name"),
                        p.attribute("version"),
                        p.attribute("release"),
                    ) else {
                        c.bad(
                            f.name,
                            Some(&id),
                            "package without name, version or release",
                        );
                        continue;
                    };
                    let evr = match p.attribute("epoch").filter(|e| !e.is_empty() && *e != "0") {
                        Some(e) => format!("{e}:{ver}-{rel}"),
                        None => format!("{ver}-{rel}"),
                    };
                    if let Err(e) = check_version(Scheme::Rpm, &evr) {
                        c.bad(f.name, Some(&id), format!("{name}: {e}"));
                        continue;
                    }
                    // one statement per package name (updateinfo lists each arch separately)
                    if c.batch
                        .affected
                        .iter()
                        .rev()
                        .take(64)
                        .any(|a| a.vuln_id == id && a.namespace == ns && a.package == name)
                    {
                        continue;
                    }
                    c.batch.affected.push(Affected {
                        vuln_id: id.clone(),
                        namespace: ns.clone(),
                        package: name.to_string(),
                        ranges: vec![Range::Interval {
                            introduced: None,
                            fixed: Some(evr.clone()),
                            last_affected: None,
                        }],
                        fix_state: FixState::Fixed,
                        fixed_in: Some(evr),
                        severity,
                        priority: 3,
                    });
                }
            }
            c.batch.vulns.push(VulnInfo {
                id: id.clone(),
                origin: "amazon".into(),
                aliases: cves,
                severity,
                cvss: Vec::new(),
                description: child_text(u, "title"),
                published: u
                    .children()
                    .find(|n| n.has_tag_name("issued"))
                    .and_then(|n| n.attribute("date"))
                    .map(str::to_string),
                url: Some(alas_url(&id)),
                withdrawn: false,
                ..Default::default()
            });
        }
    }
}

fn child_text(n: Node<'_, '_>, tag: &str) -> Option<String> {
    n.children()
        .find(|c| c.has_tag_name(tag))
        .and_then(|c| c.text())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// `amazon-linux-ami` → `amazon:1`; `amazon-linux-2`, `amazon-linux-2---extras…` → `amazon:2`;
/// `amazon-linux-2022`, `amazon-linux-2023---kernel-livepatch` → `amazon:2022`, `amazon:2023`.
fn collection_namespace(short: &str) -> Option<String> {
    let rest = short.strip_prefix("amazon-linux-")?;
    if rest == "ami" || rest.starts_with("ami-") {
        return Some("amazon:1".into());
    }
    let release: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (!release.is_empty()).then(|| format!("amazon:{release}"))
}

/// The public page of an ALAS (`https://alas.aws.amazon.com/AL2/ALAS2-2018-939.html`).
fn alas_url(id: &str) -> String {
    let dir = if id.starts_with("ALAS2023") {
        "AL2023/"
    } else if id.starts_with("ALAS2022") {
        "AL2022/"
    } else if id.starts_with("ALAS2") {
        "AL2/"
    } else {
        ""
    };
    format!("https://alas.aws.amazon.com/{dir}{id}.html")
}

#[cfg(test)]
mod tests {
    use crate::import::testing::{import_one, owner};
    use crate::{FixState, Severity};

    const AL2023: &str = r#"<?xml version="1.0" ?>
<updates><update status="final" version="1.4" author="linux-security@amazon.com" type="security" from="linux-security@amazon.com"><id>ALAS2023-2023-001</id><title>Amazon Linux 2023 - ALAS2023-2023-001: Important priority package update for rsyslog</title><issued date="2023-02-17 20:41" /><updated date="2023-02-22 23:22" /><severity>Important</severity><description>x</description><references><reference href="http://cve.mitre.org/cgi-bin/cvename.cgi?name=CVE-2014-3634" title="" id="CVE-2014-3634" type="cve" /><reference href="http://cve.mitre.org/cgi-bin/cvename.cgi?name=CVE-2022-24903" title="" id="CVE-2022-24903" type="cve" /></references><pkglist><collection short="amazon-linux-2023"><name>Amazon Linux 2023</name><package name="rsyslog" version="8.2204.0" release="3.amzn2023.0.2" epoch="0" arch="x86_64"><filename>Packages/rsyslog-8.2204.0-3.amzn2023.0.2.x86_64.rpm</filename></package><package name="rsyslog" version="8.2204.0" release="3.amzn2023.0.2" epoch="0" arch="aarch64"><filename>Packages/rsyslog-8.2204.0-3.amzn2023.0.2.aarch64.rpm</filename></package><package name="bind" version="9.16.23" release="1.amzn2023" epoch="32" arch="x86_64"><filename>Packages/bind.rpm</filename></package></collection></pkglist></update></updates>"#;

    #[test]
    fn detects_updateinfo() {
        assert_eq!(
            owner("repodata/updateinfo.xml", AL2023.as_bytes()),
            Some("amazon-updateinfo")
        );
        assert_eq!(owner("x.xml", b"<updates></updates>"), None);
    }

    #[test]
    fn each_package_fixed_at_its_evr_in_the_collection_release() {
        let b = import_one("updateinfo.xml", AL2023.as_bytes());
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        assert_eq!(
            b.affected.len(),
            2,
            "one statement per package name: {:?}",
            b.affected
        );
        let r = &b.affected[0];
        assert_eq!(
            (r.vuln_id.as_str(), r.namespace.as_str(), r.package.as_str()),
            ("ALAS2023-2023-001", "amazon:2023", "rsyslog")
        );
        assert_eq!(
            (r.fix_state, r.fixed_in.as_deref(), r.severity),
            (
                FixState::Fixed,
                Some("8.2204.0-3.amzn2023.0.2"),
                Some(Severity::High)
            )
        );
        assert_eq!(
            b.affected[1].fixed_in.as_deref(),
            Some("32:9.16.23-1.amzn2023")
        );
        assert_eq!(b.vulns[0].aliases, ["CVE-2014-3634", "CVE-2022-24903"]);
    }

    #[test]
    fn bad_xml_and_unknown_collection_are_bad_records() {
        let b = import_one("updateinfo.xml", b"<updates><update><id>ALAS2-1</id>");
        assert!(
            b.bad[0].reason.contains("invalid updateinfo XML"),
            "{:?}",
            b.bad
        );
        let other = AL2023.replace("amazon-linux-2023", "fedora-38");
        let b = import_one("updateinfo.xml", other.as_bytes());
        assert!(
            b.affected.is_empty() && b.bad[0].reason.contains("fedora-38"),
            "{:?}",
            b.bad
        );
    }
}
