//! Red Hat CSAF 2.0: security advisories (`RHSA-…`, `document.category` `csaf_security_advisory`) and CSAF VEX
//! per-CVE documents (`csaf_vex`), as published under `https://security.access.redhat.com/data/csaf/v2/`.
//!
//! The `product_tree` names product streams (`product_name` branches with a CPE: `cpe:/o:redhat:enterprise_linux:9
//! ::baseos`, `cpe:/a:redhat:rhel_eus:9.2::appstream`) and packages (`product_version` branches with a purl:
//! `pkg:rpm/redhat/git-lfs@3.4.1-2.el9_4?arch=x86_64&epoch=1&rpmmod=…`); `relationships` join them into the ids
//! that `vulnerabilities[].product_status` lists (`AppStream-9.4.0.Z.MAIN:git-lfs-0:3.4.1-2.el9_4.x86_64`,
//! `red_hat_enterprise_linux_9:samba`). Every RHEL stream of a major release becomes the image namespace
//! `rhel:<major>` (as for Red Hat's OSV); other Red Hat products (OpenShift, JBoss, Directory Server…) are out of
//! scope and skipped.
//!
//! * `fixed` → fixed at the package's `[epoch:]version-release`. Several streams of one major release may name
//!   different fixes (9.2 EUS and the 9.4 main stream): the main stream's (`enterprise_linux`) wins, else the
//!   smallest. Module builds (`.module+el8…`) and plain builds are kept apart (the matcher compares like with
//!   like).
//! * `known_affected` → affected in every version, no fix: `wont-fix` when the remediation is `no_fix_planned`,
//!   else `not-fixed`.
//! * `known_not_affected` → not affected (only when the same document names no fix or open state for that package
//!   in that release).
//!
//! Severity: the vulnerability's `threats[category=impact]`, else the document's `aggregate_severity`; CVSS v3/v2
//! from `scores[]`. An advisory is stored under its `RHSA-…` id with its CVEs as aliases; a VEX document under its
//! CVE.
//!
//! Bounds: a document larger than [`MAX_BYTES`] is refused before it is parsed when its head shows it is CSAF (and
//! after parsing otherwise); `product_tree` branches deeper than [`MAX_DEPTH`] are refused (the JSON parser itself
//! stops at 128 levels).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::{Collector, File, Importer, check_version};
use crate::model::{Affected, Range, VulnInfo, cvss3_scores, severity_from_word};
use crate::version::compare;
use crate::{Cvss, FixState, Scheme, Severity};

/// Largest Red Hat CSAF document imported (the largest Red Hat publishes are a few MB: RHSA-2024:4420 is 1.6 MB).
pub(super) const MAX_BYTES: usize = 64 << 20;

/// Deepest `product_tree` branch nesting accepted (Red Hat's documents use 3–4 levels).
const MAX_DEPTH: usize = 16;

/// A Red Hat CSAF advisory or CSAF VEX document.
pub(super) struct RedHatCsaf;

/// Whether the first bytes of a JSON file look like a CSAF document (checked before a too-large file is parsed).
pub(super) fn looks_like_csaf(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]);
    head.contains("\"csaf_version\"")
}

/// The bad-record reason for a document of `len` bytes over [`MAX_BYTES`].
pub(super) fn too_large(len: usize) -> String {
    format!(
        "Red Hat CSAF document is {} MiB, over the {} MiB limit for one document; refused (split it, or check the \
         source: Red Hat's largest are a few MB)",
        len >> 20,
        MAX_BYTES >> 20
    )
}

impl Importer for RedHatCsaf {
    fn name(&self) -> &'static str {
        "redhat-csaf"
    }

    fn detect(&self, f: &File<'_>) -> bool {
        let d = &f.json()["document"];
        d["csaf_version"].is_string()
            && f.has("product_tree")
            && d["publisher"]["namespace"]
                .as_str()
                .is_some_and(|n| n.contains("redhat.com"))
    }

    fn import(&self, f: &File<'_>, c: &mut Collector) {
        let doc = f.json();
        let id = doc["document"]["tracking"]["id"]
            .as_str()
            .map(str::to_string);
        if f.bytes.len() > MAX_BYTES {
            return c.bad(f.name, id.as_deref(), too_large(f.bytes.len()));
        }
        let Some(id) = id else {
            return c.bad(f.name, None, "CSAF document without document.tracking.id");
        };
        c.count("redhat-csaf");
        let tree = match Tree::read(&doc["product_tree"]) {
            Ok(t) => t,
            Err(reason) => return c.bad(f.name, Some(&id), reason),
        };
        let aggregate = doc["document"]["aggregate_severity"]["text"]
            .as_str()
            .and_then(severity_from_word);
        let vulns = doc["vulnerabilities"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        let cves: Vec<String> = vulns
            .iter()
            .filter_map(|v| v["cve"].as_str().map(str::to_string))
            .collect();
        // an advisory is one record (its CVEs aliases); a VEX document is its CVE
        let is_cve_doc = id.starts_with("CVE-");
        let mut cvss = Vec::new();
        let mut severity = aggregate;
        let mut statements = Statements::default();
        for v in vulns {
            let vid = if is_cve_doc {
                v["cve"].as_str().unwrap_or(&id).to_string()
            } else {
                id.clone()
            };
            let threat = v["threats"].as_array().into_iter().flatten().find_map(|t| {
                (t["category"] == "impact")
                    .then(|| t["details"].as_str().and_then(severity_from_word))
                    .flatten()
            });
            let sev = if is_cve_doc {
                threat.or(aggregate)
            } else {
                aggregate.or(threat)
            };
            if is_cve_doc && severity.is_none() {
                severity = sev;
            }
            for s in v["scores"].as_array().into_iter().flatten() {
                for key in ["cvss_v3", "cvss_v2"] {
                    let m = &s[key];
                    if let (Some(vector), Some(score)) =
                        (m["vectorString"].as_str(), m["baseScore"].as_f64())
                        && !cvss.iter().any(|x: &Cvss| x.vector == vector)
                    {
                        // Red Hat gives the base score only: the sub-scores follow from a v3 vector
                        let sub = cvss3_scores(vector);
                        cvss.push(Cvss {
                            source: "redhat".into(),
                            version: m["version"].as_str().unwrap_or("").to_string(),
                            vector: vector.to_string(),
                            base_score: score,
                            exploitability_score: sub.map(|s| s.1),
                            impact_score: sub.map(|s| s.2),
                        });
                    }
                }
            }
            let remedy = remediations(v);
            let status = &v["product_status"];
            for pid in ids(&status["fixed"]) {
                let Some((stream, pkg)) = tree.resolve(pid) else {
                    continue;
                };
                let Some(evr) = pkg.evr.clone() else {
                    c.bad(
                        f.name,
                        Some(&vid),
                        format!("fixed product `{pid}` names no version"),
                    );
                    continue;
                };
                if let Err(e) = check_version(Scheme::Rpm, &evr) {
                    c.bad(f.name, Some(&vid), format!("{}: {e}", pkg.name));
                    continue;
                }
                statements.fixed(&vid, stream, &pkg.name, evr, sev);
            }
            for pid in ids(&status["known_affected"]) {
                let Some((stream, pkg)) = tree.resolve(pid) else {
                    continue;
                };
                let state = if remedy.get(pid) == Some(&"no_fix_planned") {
                    FixState::WontFix
                } else {
                    FixState::NotFixed
                };
                statements.open(&vid, stream, &pkg.name, state, sev);
            }
            for pid in ids(&status["known_not_affected"]) {
                if let Some((stream, pkg)) = tree.resolve(pid) {
                    statements.not_affected(&vid, stream, &pkg.name, sev);
                }
            }
        }
        statements.emit(&mut c.batch.affected);
        let references = doc["document"]["references"].as_array();
        let url = references
            .into_iter()
            .flatten()
            .find(|r| r["category"] == "self")
            .and_then(|r| r["url"].as_str())
            .map(str::to_string);
        c.batch.vulns.push(VulnInfo {
            id: id.clone(),
            origin: "rhel".into(),
            aliases: cves.into_iter().filter(|c| *c != id).collect(),
            severity,
            cvss,
            description: doc["document"]["title"].as_str().map(str::to_string),
            published: doc["document"]["tracking"]["initial_release_date"]
                .as_str()
                .map(str::to_string),
            url,
            withdrawn: false,
            ..Default::default()
        });
    }
}

/// The product ids of a `product_status` list.
fn ids(v: &Value) -> impl Iterator<Item = &str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str)
}

/// product id → remediation category, the most telling one when several name it.
fn remediations(v: &Value) -> HashMap<&str, &str> {
    let rank = |c: &str| match c {
        "no_fix_planned" => 3,
        "vendor_fix" => 2,
        "none_available" => 1,
        _ => 0,
    };
    let mut out: HashMap<&str, &str> = HashMap::new();
    for r in v["remediations"].as_array().into_iter().flatten() {
        let Some(cat) = r["category"].as_str() else {
            continue;
        };
        for pid in ids(&r["product_ids"]) {
            let e = out.entry(pid).or_insert(cat);
            if rank(cat) > rank(e) {
                *e = cat;
            }
        }
    }
    out
}

/// A RHEL product stream: its namespace and whether it is the main stream (not EUS/AUS/E4S/TUS/ELS).
#[derive(Debug, Clone)]
struct Stream {
    namespace: String,
    main: bool,
}

/// A package of the product tree.
#[derive(Debug, Clone)]
struct Pkg {
    name: String,
    /// `[epoch:]version-release`, when the product names one.
    evr: Option<String>,
}

/// The product tree, indexed.
#[derive(Default)]
struct Tree {
    /// product id → RHEL stream (product ids of other products are absent).
    streams: HashMap<String, Option<Stream>>,
    /// product id → package.
    packages: HashMap<String, Pkg>,
    /// relationship product id → (package product id, stream product id).
    relations: HashMap<String, (String, String)>,
}

impl Tree {
    fn read(v: &Value) -> Result<Tree, String> {
        let mut t = Tree::default();
        let mut stack: Vec<(&Value, usize)> = v["branches"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| (b, 1))
            .collect();
        while let Some((b, depth)) = stack.pop() {
            if depth > MAX_DEPTH {
                return Err(format!(
                    "product_tree branches are nested deeper than {MAX_DEPTH} levels (Red Hat's use 4); refused"
                ));
            }
            let p = &b["product"];
            if let Some(pid) = p["product_id"].as_str() {
                let helper = &p["product_identification_helper"];
                if let Some(cpe) = helper["cpe"].as_str() {
                    t.streams.insert(pid.to_string(), rhel_stream(cpe));
                } else if let Some(pkg) = helper["purl"].as_str().and_then(purl_package) {
                    t.packages.insert(pid.to_string(), pkg);
                }
            }
            stack.extend(
                b["branches"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| (c, depth + 1)),
            );
        }
        for r in v["relationships"].as_array().into_iter().flatten() {
            if let (Some(id), Some(pkg), Some(stream)) = (
                r["full_product_name"]["product_id"].as_str(),
                r["product_reference"].as_str(),
                r["relates_to_product_reference"].as_str(),
            ) {
                t.relations
                    .insert(id.to_string(), (pkg.to_string(), stream.to_string()));
            }
        }
        Ok(t)
    }

    /// The RHEL stream and package a status entry names; `None` for other products.
    fn resolve(&self, pid: &str) -> Option<(&Stream, Pkg)> {
        let (pkg_ref, stream_ref) = self.relations.get(pid)?;
        let stream = self.streams.get(stream_ref)?.as_ref()?;
        // a package without a purl: its id is the NEVRA (`firefox-0:115.5.0-1.el7_9.i686`)
        let pkg = self
            .packages
            .get(pkg_ref)
            .cloned()
            .or_else(|| nevra_package(pkg_ref))?;
        Some((stream, pkg))
    }
}

/// `cpe:/o:redhat:enterprise_linux:9::baseos` → `rhel:9` (main), `cpe:/a:redhat:rhel_eus:9.2::appstream` →
/// `rhel:9` (not main); `None` for other Red Hat products.
fn rhel_stream(cpe: &str) -> Option<Stream> {
    let parts: Vec<&str> = cpe.split(':').collect();
    let (vendor, product, version) = (parts.get(2)?, parts.get(3)?, parts.get(4)?);
    if *vendor != "redhat" {
        return None;
    }
    let main = *product == "enterprise_linux";
    if !(main || ["rhel_eus", "rhel_aus", "rhel_e4s", "rhel_tus", "rhel_els"].contains(product)) {
        return None;
    }
    let major = version.split('.').next()?;
    (!major.is_empty() && major.bytes().all(|b| b.is_ascii_digit())).then(|| Stream {
        namespace: format!("rhel:{major}"),
        main,
    })
}

/// `pkg:rpm/redhat/libguestfs@1.44.0-9.module%2Bel8.9.0?arch=src&epoch=1&rpmmod=…` → `libguestfs`,
/// `1:1.44.0-9.module+el8.9.0`; a purl without a version gives the name only.
fn purl_package(purl: &str) -> Option<Pkg> {
    let rest = purl.strip_prefix("pkg:rpm/")?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (_, name_ver) = path.split_once('/')?;
    let (name, version) = match name_ver.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (name_ver, None),
    };
    let epoch = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("epoch="))
        .filter(|e| !e.is_empty() && *e != "0");
    let evr = version.map(|v| {
        let v = percent_decode(v);
        match epoch {
            Some(e) => format!("{e}:{v}"),
            None => v,
        }
    });
    Some(Pkg {
        name: percent_decode(name),
        evr,
    })
}

/// `firefox-0:115.5.0-1.el7_9.i686` → `firefox`, `115.5.0-1.el7_9`; a plain name (`samba`) → the name only.
fn nevra_package(id: &str) -> Option<Pkg> {
    let Some((name, evra)) = id
        .match_indices('-')
        .map(|(i, _)| (&id[..i], &id[i + 1..]))
        .find(|(_, rest)| {
            rest.split_once(':')
                .is_some_and(|(e, _)| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()))
        })
    else {
        let ok = !id.is_empty() && !id.contains([':', '/', ' ']);
        return ok.then(|| Pkg {
            name: id.trim_end_matches(".src").to_string(),
            evr: None,
        });
    };
    let (epoch, vra) = evra.split_once(':')?;
    let vr = vra.rsplit_once('.').map_or(vra, |(vr, _arch)| vr);
    vr.contains('-').then(|| Pkg {
        name: name.to_string(),
        evr: Some(if epoch == "0" {
            vr.to_string()
        } else {
            format!("{epoch}:{vr}")
        }),
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
            && let Ok(x) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(x);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// (vulnerability, namespace, package).
type Key = (String, String, String);

/// The fixes one document names for a key and build kind: main-stream fixes, other streams' fixes, severity.
type Fixes = (Vec<String>, Vec<String>, Option<Severity>);

/// What one document says per (vulnerability, namespace, package), resolved across its streams.
#[derive(Default)]
struct Statements {
    /// (vuln, namespace, package, module build) → (main-stream fixes, other fixes, severity).
    fixed: BTreeMap<(String, String, String, bool), Fixes>,
    /// (vuln, namespace, package) → (state, severity).
    open: BTreeMap<Key, (FixState, Option<Severity>)>,
    /// (vuln, namespace, package) → severity.
    not_affected: BTreeMap<Key, Option<Severity>>,
}

impl Statements {
    fn fixed(&mut self, vid: &str, s: &Stream, pkg: &str, evr: String, sev: Option<Severity>) {
        let module = evr
            .rsplit_once('-')
            .is_some_and(|(_, r)| r.contains(".module"));
        let e = self
            .fixed
            .entry((vid.into(), s.namespace.clone(), pkg.into(), module))
            .or_insert((Vec::new(), Vec::new(), sev));
        if s.main { &mut e.0 } else { &mut e.1 }.push(evr);
    }

    fn open(&mut self, vid: &str, s: &Stream, pkg: &str, state: FixState, sev: Option<Severity>) {
        let e = self
            .open
            .entry((vid.into(), s.namespace.clone(), pkg.into()))
            .or_insert((state, sev));
        if state == FixState::NotFixed {
            e.0 = FixState::NotFixed;
        }
    }

    fn not_affected(&mut self, vid: &str, s: &Stream, pkg: &str, sev: Option<Severity>) {
        self.not_affected
            .entry((vid.into(), s.namespace.clone(), pkg.into()))
            .or_insert(sev);
    }

    fn emit(self, out: &mut Vec<Affected>) {
        let row = |(vid, ns, pkg): (String, String, String), state, ranges, fixed_in, severity| {
            Affected {
                vuln_id: vid,
                namespace: ns,
                package: pkg,
                ranges,
                fix_state: state,
                fixed_in,
                severity,
                priority: 3,
            }
        };
        let has_fix = |k: &(String, String, String)| {
            self.fixed
                .keys()
                .any(|(v, n, p, _)| (v, n, p) == (&k.0, &k.1, &k.2))
        };
        for (k, (state, sev)) in &self.open {
            if !has_fix(k) {
                out.push(row(k.clone(), *state, vec![Range::All], None, *sev));
            }
        }
        for (k, sev) in &self.not_affected {
            if !has_fix(k) && !self.open.contains_key(k) {
                out.push(row(
                    k.clone(),
                    FixState::NotAffected,
                    Vec::new(),
                    None,
                    *sev,
                ));
            }
        }
        for ((vid, ns, pkg, _), (main, other, sev)) in self.fixed {
            let cands = if main.is_empty() { other } else { main };
            let Some(evr) = cands
                .into_iter()
                .reduce(|a, b| match compare(Scheme::Rpm, &b, &a) {
                    Ok(std::cmp::Ordering::Less) => b,
                    _ => a,
                })
            else {
                continue;
            };
            out.push(row(
                (vid, ns, pkg),
                FixState::Fixed,
                vec![Range::Interval {
                    introduced: None,
                    fixed: Some(evr.clone()),
                    last_affected: None,
                }],
                Some(evr),
                sev,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::testing::{import_one, owner};

    fn shared(rel: &str) -> Vec<u8> {
        let base = std::env::var_os("PORTCULLIS_SHARED")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").into());
        let p = base.join("vulndata").join(rel);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn names_from_purls_and_nevra_ids() {
        let p = purl_package(
            "pkg:rpm/redhat/libguestfs@1.44.0-9.module%2Bel8.9.0%2B18724%2B20190c23?arch=src&epoch=1&rpmmod=virt:rhel",
        )
        .unwrap();
        assert_eq!(
            (p.name.as_str(), p.evr.as_deref()),
            (
                "libguestfs",
                Some("1:1.44.0-9.module+el8.9.0+18724+20190c23")
            )
        );
        assert_eq!(purl_package("pkg:rpm/redhat/samba").unwrap().evr, None);
        let n = nevra_package("firefox-debuginfo-0:115.5.0-1.el7_9.i686").unwrap();
        assert_eq!(
            (n.name.as_str(), n.evr.as_deref()),
            ("firefox-debuginfo", Some("115.5.0-1.el7_9"))
        );
        let n = nevra_package("bind-32:9.11.4-26.P2.el7_9.15.src").unwrap();
        assert_eq!(n.evr.as_deref(), Some("32:9.11.4-26.P2.el7_9.15"));
        assert_eq!(nevra_package("samba").unwrap().name, "samba");
        assert!(rhel_stream("cpe:/a:redhat:openshift:4.16::el9").is_none());
        let s = rhel_stream("cpe:/a:redhat:rhel_eus:9.2::appstream").unwrap();
        assert_eq!((s.namespace.as_str(), s.main), ("rhel:9", false));
    }

    #[test]
    fn the_large_real_advisory_imports_with_module_stream_fixes() {
        let bytes = shared("osv-schema/tools/redhat/testdata/CSAF/rhsa-2024_4420.json");
        assert!(bytes.len() > 1_500_000);
        assert_eq!(owner("rhsa-2024_4420.json", &bytes), Some("redhat-csaf"));
        let b = import_one("rhsa-2024_4420.json", &bytes);
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        // qemu-kvm (virt:rhel module, AppStream 8.10 main): epoch 15
        let q = b.affected.iter().find(|a| a.package == "qemu-kvm").unwrap();
        assert_eq!(
            (q.vuln_id.as_str(), q.namespace.as_str(), q.fix_state),
            ("RHSA-2024:4420", "rhel:8", FixState::Fixed)
        );
        assert_eq!(
            q.fixed_in.as_deref(),
            Some("15:6.2.0-50.module+el8.10.0+22027+db0a70a4")
        );
        assert_eq!(q.severity, Some(Severity::High));
        let v = &b.vulns[0];
        assert_eq!(
            (v.id.as_str(), v.origin.as_str()),
            ("RHSA-2024:4420", "rhel")
        );
        assert_eq!(v.aliases, ["CVE-2024-4467"]);
        assert_eq!(
            (
                v.cvss[0].base_score,
                v.cvss[0].exploitability_score,
                v.cvss[0].impact_score
            ),
            (7.8, Some(1.8), Some(5.9))
        );
    }

    #[test]
    fn vex_fixed_open_and_not_affected() {
        let bytes = shared(
            "vuls-data-update/pkg/fetch/redhat/vex/v1/testdata/fixtures/csaf_vex_2024-08-04.tar.zst.members/2023/cve-2023-6212.json",
        );
        let b = import_one("cve-2023-6212.json", &bytes);
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        let get = |ns: &str, pkg: &str| {
            b.affected
                .iter()
                .find(|a| a.namespace == ns && a.package == pkg)
                .unwrap_or_else(|| panic!("{ns} {pkg}: {:#?}", b.affected))
        };
        // RHEL 8: the main stream's fix (AppStream-8.9.0.Z.MAIN), not an EUS one
        let f8 = get("rhel:8", "firefox");
        assert_eq!(f8.vuln_id, "CVE-2023-6212");
        assert_eq!(f8.fixed_in.as_deref(), Some("115.5.0-1.el8_9"));
        assert_eq!(
            get("rhel:7", "firefox").fixed_in.as_deref(),
            Some("115.5.0-1.el7_9")
        );
        // RHEL 6: known_affected, no_fix_planned
        let f6 = get("rhel:6", "firefox");
        assert_eq!(
            (f6.fix_state, &f6.ranges[..]),
            (FixState::WontFix, &[Range::All][..])
        );
        assert_eq!(f6.severity, Some(Severity::High));

        let b = import_one(
            "cve-2023-4154.json",
            &shared("claircore/rhel/vex/testdata/cve-2023-4154.json"),
        );
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        let s = b
            .affected
            .iter()
            .find(|a| a.namespace == "rhel:9" && a.package == "samba")
            .unwrap();
        assert_eq!(s.fix_state, FixState::NotAffected);
    }

    #[test]
    fn hostile_documents_are_refused_with_a_reason() {
        let mut deep = String::from(r#"{"name":"x","category":"vendor"}"#);
        for _ in 0..40 {
            deep = format!(r#"{{"category":"vendor","name":"x","branches":[{deep}]}}"#);
        }
        let doc = format!(
            r#"{{"document":{{"csaf_version":"2.0","category":"csaf_vex","publisher":{{"namespace":"https://www.redhat.com"}},
            "tracking":{{"id":"CVE-2099-1"}}}},"product_tree":{{"branches":[{deep}]}},"vulnerabilities":[]}}"#
        );
        let b = import_one("cve-2099-1.json", doc.as_bytes());
        assert!(
            b.bad[0].reason.contains("nested deeper than 16 levels"),
            "{:?}",
            b.bad
        );
        // 100 MB: refused before parsing, from its head
        let mut big = br#"{"document":{"csaf_version":"2.0","tracking":{"id":"RHSA-2099:1"},"notes":[{"text":""#.to_vec();
        big.resize(100 << 20, b'a');
        big.extend_from_slice(br#""}]},"product_tree":{}}"#);
        let b = import_one("rhsa-2099_1.json", &big);
        assert!(
            b.bad[0].reason.contains("over the 64 MiB limit"),
            "{:?}",
            b.bad
        );
        assert!(b.affected.is_empty());
    }
}
