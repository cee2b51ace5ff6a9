//! Differential tests: every comparator must agree with the ecosystem's own reference implementation on at least
//! 10,000 pairs of real versions.
//!
//! References: `dpkg --compare-versions`, rpm's own comparison (`python3-rpm`, `rpm.ver`), Python
//! `packaging.version` (`/usr/bin/python3`), npm's `semver` package (installed by `scripts/setup.d/30-vuln.sh` in
//! `~/.cache/portcullis/npm-semver`), Maven's `ComparableVersion` (the maven-artifact jar), RubyGems'
//! `Gem::Version` (Debian's ruby) and composer/semver's `VersionParser` + `Comparator` (Debian's php-cli +
//! php-composer-semver), the last three installed by `scripts/setup.d/31-vuln-oracles.sh` and driven by the
//! programs in `tests/oracles/`. Versions: the Debian `Packages` indexes in `/var/lib/apt/lists`, the versions in
//! `../shared/vulndata` (Debian tracker, PyPA, RHEL, rubysec, GHSA), and PyPI/npm/Maven Central version lists
//! fetched by the setup scripts into `~/.cache/portcullis/versions`. Pairs are chosen deterministically (fixed
//! seed).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use portcullis_testkit::shared;
use portcullis_vuln::{Scheme, compare};

const MIN_PAIRS: usize = 10_000;
const SETUP: &str = "run `scripts/setup.d/30-vuln.sh` and `scripts/setup.d/31-vuln-oracles.sh` (as root) to install it";

fn cache() -> PathBuf {
    dirs::home_dir()
        .expect("no home directory")
        .join(".cache/portcullis")
}

/// Deterministic xorshift generator (the pairs must be the same on every run).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Versions grouped by package: pairs are mostly taken within a package (close versions are the hard cases).
type Groups = BTreeMap<String, BTreeSet<String>>;

fn pairs(groups: &Groups, want: usize, seed: u64) -> Vec<(String, String)> {
    let mut rng = Rng(seed);
    let mut out = BTreeSet::new();
    let lists: Vec<Vec<&String>> = groups
        .values()
        .filter(|v| !v.is_empty())
        .map(|v| v.iter().collect())
        .collect();
    let all: Vec<&String> = lists.iter().flatten().copied().collect();
    assert!(!all.is_empty(), "no versions collected");
    // neighbours in each package's (lexically sorted) list, then random pairs within a package, then anywhere
    for l in &lists {
        for w in l.windows(2) {
            out.insert((w[0].clone(), w[1].clone()));
        }
    }
    let mut v: Vec<(String, String)> = out.into_iter().collect();
    // keep a deterministic sample of the neighbours: at most 60 % of the pairs
    while v.len() > want * 6 / 10 {
        let i = rng.below(v.len());
        v.swap_remove(i);
    }
    let mut set: BTreeSet<(String, String)> = v.into_iter().collect();
    let mut guard = 0;
    while set.len() < want * 9 / 10 && guard < want * 20 {
        guard += 1;
        let l = &lists[rng.below(lists.len())];
        if l.len() < 2 {
            continue;
        }
        let (a, b) = (l[rng.below(l.len())], l[rng.below(l.len())]);
        set.insert((a.clone(), b.clone()));
    }
    while set.len() < want && guard < want * 40 {
        guard += 1;
        let (a, b) = (all[rng.below(all.len())], all[rng.below(all.len())]);
        set.insert((a.clone(), b.clone()));
    }
    set.into_iter().collect()
}

fn debian_packages() -> Groups {
    let mut g = Groups::new();
    let lists = Path::new("/var/lib/apt/lists");
    let entries = std::fs::read_dir(lists)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; run `apt-get update`", lists.display()));
    for e in entries {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if !name.contains("_Packages") {
            continue;
        }
        let out = Command::new("/usr/lib/apt/apt-helper")
            .arg("cat-file")
            .arg(&p)
            .output()
            .expect("apt-helper (package apt) is needed to read the Packages index");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut pkg = String::new();
        for line in text.lines() {
            if let Some(p) = line.strip_prefix("Package: ") {
                pkg = p.to_string();
            } else if let Some(v) = line.strip_prefix("Version: ") {
                g.entry(pkg.clone()).or_default().insert(v.to_string());
            }
        }
    }
    assert!(
        g.len() > 1000,
        "no Debian Packages index found in /var/lib/apt/lists; run `apt-get update` first"
    );
    g
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    for e in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if e.file_type().is_file() {
            f(e.path());
        }
    }
}

fn debian_tracker_versions(g: &mut Groups) {
    let dir = shared().join("vulndata/debian/vuln-list-debian/tracker");
    walk(&dir, &mut |p| {
        let Ok(text) = std::fs::read_to_string(p) else {
            return;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            return;
        };
        for a in v["Annotations"].as_array().into_iter().flatten() {
            if let (Some(pkg), Some(ver)) = (a["Package"].as_str(), a["Version"].as_str())
                && ver.starts_with(|c: char| c.is_ascii_digit())
            {
                g.entry(pkg.to_string())
                    .or_default()
                    .insert(ver.to_string());
            }
        }
    });
}

fn pypi_versions() -> Groups {
    let mut g = Groups::new();
    let dir = cache().join("versions/pypi");
    for e in std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}; {SETUP}", dir.display()))
        .flatten()
    {
        let name = e.file_name().to_string_lossy().to_string();
        let text = std::fs::read_to_string(e.path()).unwrap();
        let set = g.entry(format!("fetched:{name}")).or_default();
        set.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_string));
    }
    let pypa = shared().join("vulndata/pypa/vulns");
    walk(&pypa, &mut |p| {
        if p.extension().is_none_or(|e| e != "yaml") {
            return;
        }
        let pkg = p
            .parent()
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let Ok(text) = std::fs::read_to_string(p) else {
            return;
        };
        let Ok(v) = serde_yaml_ng::from_str::<serde_json::Value>(&text) else {
            return;
        };
        let set = g.entry(pkg).or_default();
        for a in v["affected"].as_array().into_iter().flatten() {
            for ver in a["versions"].as_array().into_iter().flatten() {
                if let Some(s) = ver.as_str() {
                    set.insert(s.to_string());
                }
            }
        }
    });
    assert!(
        g.keys().filter(|k| k.starts_with("fetched:")).count() >= 10,
        "PyPI version lists missing in {}; {SETUP}",
        dir.display()
    );
    g
}

fn npm_versions() -> Groups {
    let mut g = Groups::new();
    let dir = cache().join("versions/npm");
    for e in std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}; {SETUP}", dir.display()))
        .flatten()
    {
        let text = std::fs::read_to_string(e.path()).unwrap();
        let list: Vec<String> = serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("{}: {err}", e.path().display()));
        g.entry(e.file_name().to_string_lossy().to_string())
            .or_default()
            .extend(list);
    }
    assert!(
        g.len() >= 10,
        "npm version lists missing in {}; {SETUP}",
        dir.display()
    );
    g
}

/// Runs `program args` with `input` on stdin and returns its stdout lines.
fn run_ref(program: &str, args: &[&str], input: &str, what: &str) -> Vec<String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program} ({what}): {e}; {SETUP}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{what} failed: {}; {SETUP}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Compares our answers with the reference's (`-1|0|1`, or `x` when the reference rejects a version).
fn check(scheme: Scheme, pairs: &[(String, String)], reference: &[String]) {
    assert_eq!(
        pairs.len(),
        reference.len(),
        "reference answered a different number of lines"
    );
    let mut compared = 0;
    let mut bad = Vec::new();
    for ((a, b), r) in pairs.iter().zip(reference) {
        if r == "x" {
            continue;
        }
        compared += 1;
        let ours = match compare(scheme, a, b) {
            Ok(o) => (o as i8).to_string(),
            Err(e) => format!("error ({e})"),
        };
        if &ours != r {
            bad.push(format!("{a} vs {b}: reference {r}, ours {ours}"));
        }
    }
    eprintln!(
        "{scheme}: {compared} pairs compared with the reference, {} disagree",
        bad.len()
    );
    assert!(
        bad.is_empty(),
        "{scheme}: {} of {compared} pairs disagree, e.g.\n{}",
        bad.len(),
        bad.iter().take(25).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(
        compared >= MIN_PAIRS,
        "{scheme}: only {compared} valid pairs (need {MIN_PAIRS})"
    );
}

fn tsv(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect()
}

#[test]
fn dpkg_agrees_with_dpkg_compare_versions() {
    let mut g = debian_packages();
    debian_tracker_versions(&mut g);
    let pairs = pairs(&g, MIN_PAIRS + 200, 0x5eed_d9c6);
    // one dpkg call per pair: ask dpkg to confirm our answer (lt/eq/gt are exclusive), and on a disagreement
    // ask again to learn dpkg's own answer
    let mut input = String::new();
    for (a, b) in &pairs {
        let op = match compare(Scheme::Dpkg, a, b) {
            Ok(std::cmp::Ordering::Less) => "lt",
            Ok(std::cmp::Ordering::Equal) => "eq",
            Ok(std::cmp::Ordering::Greater) => "gt",
            Err(_) => "eq",
        };
        input.push_str(&format!("{a}\t{op}\t{b}\n"));
    }
    let script = r#"
while IFS="$(printf '\t')" read -r a op b; do
  if dpkg --compare-versions "$a" "$op" "$b" 2>/dev/null; then
    case $op in lt) echo -1;; eq) echo 0;; gt) echo 1;; esac
  elif dpkg --compare-versions "$a" lt "$b" 2>/dev/null; then echo -1
  elif dpkg --compare-versions "$a" eq "$b" 2>/dev/null; then echo 0
  elif dpkg --compare-versions "$a" gt "$b" 2>/dev/null; then echo 1
  else echo x; fi
done"#;
    let reference = run_ref("sh", &["-c", script], &input, "dpkg --compare-versions");
    check(Scheme::Dpkg, &pairs, &reference);
}

#[test]
fn rpm_agrees_with_rpm() {
    let mut g = debian_packages();
    // RHEL EVRs from the vunnel fixtures (arch suffix removed)
    let re = regex::Regex::new(r"\b(\d+:[0-9][A-Za-z0-9._+~^]*-[A-Za-z0-9._+~^]+)").unwrap();
    let rhel = g.entry("rhel".into()).or_default();
    walk(
        &shared().join("vulndata/vunnel/tests/unit/providers/rhel"),
        &mut |p| {
            if let Ok(t) = std::fs::read_to_string(p) {
                for c in re.captures_iter(&t) {
                    let s = &c[1];
                    let s = s
                        .rsplit_once('.')
                        .filter(|(_, arch)| {
                            [
                                "x86_64", "noarch", "src", "i686", "aarch64", "ppc64le", "s390x",
                            ]
                            .contains(arch)
                        })
                        .map_or(s, |(v, _)| v);
                    rhel.insert(s.to_string());
                }
            }
        },
    );
    g.extend(pypi_versions());
    let pairs = pairs(&g, MIN_PAIRS + 2000, 0x05ee_d0a7);
    let script = r#"
import sys, rpm
for line in sys.stdin:
    a, b = line.rstrip("\n").split("\t")
    try:
        x, y = rpm.ver(a), rpm.ver(b)
        print((x > y) - (x < y))
    except Exception:
        print("x")
"#;
    let reference = run_ref(
        "/usr/bin/python3",
        &["-c", script],
        &tsv(&pairs),
        "python3-rpm",
    );
    check(Scheme::Rpm, &pairs, &reference);
}

#[test]
fn pep440_agrees_with_packaging() {
    let g = pypi_versions();
    let pairs = pairs(&g, MIN_PAIRS + 3000, 0x05ee_d440);
    let script = r#"
import sys
from packaging.version import Version, InvalidVersion
for line in sys.stdin:
    a, b = line.rstrip("\n").split("\t")
    try:
        x, y = Version(a), Version(b)
        print((x > y) - (x < y))
    except InvalidVersion:
        print("x")
"#;
    let reference = run_ref(
        "/usr/bin/python3",
        &["-c", script],
        &tsv(&pairs),
        "python3-packaging",
    );
    check(Scheme::Pep440, &pairs, &reference);
}

#[test]
fn semver_agrees_with_npm_semver() {
    let g = npm_versions();
    let pairs = pairs(&g, MIN_PAIRS + 2000, 0x05ee_d3e3);
    let module = cache().join("npm-semver/node_modules/semver");
    assert!(module.exists(), "{} missing; {SETUP}", module.display());
    let script = format!(
        r#"
const semver = require({module:?});
const lines = require("fs").readFileSync(0, "utf8").split("\n");
const out = [];
for (const line of lines) {{
  if (!line) continue;
  const [a, b] = line.split("\t");
  out.push(semver.valid(a) && semver.valid(b) ? String(semver.compare(a, b)) : "x");
}}
process.stdout.write(out.join("\n") + "\n");
"#,
        module = module.display().to_string()
    );
    let reference = run_ref("node", &["-e", &script], &tsv(&pairs), "node + npm semver");
    check(Scheme::Semver, &pairs, &reference);
}

/// Versions of Maven Central version lists (`~/.cache/portcullis/versions/maven`) and the Maven advisories in
/// `../shared/vulndata`.
fn maven_versions() -> Groups {
    let mut g = lists_in(&cache().join("versions/maven"), "Maven Central");
    osv_versions(&mut g, "Maven");
    g
}

/// One group per `*.txt` file (one version a line) of `dir`.
fn lists_in(dir: &Path, what: &str) -> Groups {
    let mut g = Groups::new();
    for e in std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}; {SETUP}", dir.display()))
        .flatten()
    {
        let text = std::fs::read_to_string(e.path()).unwrap();
        g.entry(e.file_name().to_string_lossy().to_string())
            .or_default()
            .extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string),
            );
    }
    assert!(
        g.len() >= 10,
        "{what} version lists missing in {}; {SETUP}",
        dir.display()
    );
    g
}

/// Versions (listed and range events) of the OSV records of `ecosystem` in `../shared/vulndata`.
fn osv_versions(g: &mut Groups, ecosystem: &str) {
    walk(&shared().join("vulndata"), &mut |p| {
        if p.extension().is_none_or(|e| e != "json") {
            return;
        }
        let Ok(text) = std::fs::read_to_string(p) else {
            return;
        };
        if !text.contains(ecosystem) {
            return;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            return;
        };
        for a in v["affected"].as_array().into_iter().flatten() {
            if a["package"]["ecosystem"].as_str() != Some(ecosystem) {
                continue;
            }
            let set = g
                .entry(a["package"]["name"].as_str().unwrap_or("?").to_string())
                .or_default();
            let listed = a["versions"].as_array().into_iter().flatten();
            let events = a["ranges"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|r| r["events"].as_array().into_iter().flatten())
                .flat_map(|e| e.as_object().into_iter().flat_map(|o| o.values()));
            for ver in listed.chain(events).filter_map(|x| x.as_str()) {
                if ver != "0" {
                    set.insert(ver.to_string());
                }
            }
        }
    });
}

/// Versions named in the ruby-advisory-db requirements (`patched_versions`, `unaffected_versions`) in
/// `../shared/vulndata/rubysec`, per gem.
fn rubysec_versions() -> Groups {
    let mut g = Groups::new();
    let re = regex::Regex::new(r"[0-9][0-9A-Za-z.\-]*").unwrap();
    walk(&shared().join("vulndata/rubysec"), &mut |p| {
        if p.extension().is_none_or(|e| e != "yml") {
            return;
        }
        let Ok(text) = std::fs::read_to_string(p) else {
            return;
        };
        let Ok(v) = serde_yaml_ng::from_str::<serde_json::Value>(&text) else {
            return;
        };
        let name = v["gem"].as_str().or(v["engine"].as_str()).unwrap_or("?");
        let set = g.entry(name.to_string()).or_default();
        for key in ["patched_versions", "unaffected_versions"] {
            for req in v[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str())
            {
                set.extend(re.find_iter(req).map(|m| m.as_str().to_string()));
            }
        }
    });
    assert!(
        g.len() > 100,
        "rubysec advisories missing in {}",
        shared().display()
    );
    g
}

/// Versions of the Composer lock files and installed.json fixtures in `../shared/vulndata/syft`.
fn packagist_fixture_versions(g: &mut Groups) {
    walk(
        &shared().join("vulndata/syft/syft/pkg/cataloger/php"),
        &mut |p| {
            let Ok(text) = std::fs::read_to_string(p) else {
                return;
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                return;
            };
            let pkgs = v["packages"].as_array().or(v.as_array());
            for pkg in pkgs.into_iter().flatten() {
                if let Some(ver) = pkg["version"].as_str() {
                    g.entry("packagist".into())
                        .or_default()
                        .insert(ver.to_string());
                }
            }
        },
    );
}

fn oracle(name: &str) -> String {
    format!("{}/tests/oracles/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The canonical Maven cases (ComparableVersionTest) of `tests/data/maven-canonical.tsv`.
fn maven_canonical_pairs() -> Vec<(String, String)> {
    let path = format!(
        "{}/tests/data/maven-canonical.tsv",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let mut c = l.split('\t');
            (c.next().unwrap().to_string(), c.next().unwrap().to_string())
        })
        .collect()
}

#[test]
fn maven_agrees_with_comparable_version() {
    let g = maven_versions();
    let mut pairs = pairs(&g, MIN_PAIRS + 2000, 0x05ee_d3a7);
    pairs.extend(maven_canonical_pairs());
    let jar = cache().join("maven-artifact/maven-artifact-3.9.9.jar");
    assert!(jar.exists(), "{} missing; {SETUP}", jar.display());
    let jar = jar.display().to_string();
    let source = oracle("MavenCompare.java");
    let reference = run_ref(
        "java",
        &["-cp", &jar, &source],
        &tsv(&pairs),
        "java + maven-artifact ComparableVersion",
    );
    check(Scheme::Maven, &pairs, &reference);
}

#[test]
fn gem_agrees_with_gem_version() {
    let mut g = rubysec_versions();
    g.extend(pypi_versions());
    let pairs = pairs(&g, MIN_PAIRS + 2000, 0x05ee_d9e3);
    let script = oracle("gem_compare.rb");
    let reference = run_ref("ruby", &[&script], &tsv(&pairs), "ruby Gem::Version");
    check(Scheme::Gem, &pairs, &reference);
}

#[test]
fn composer_agrees_with_composer_semver() {
    let mut g = Groups::new();
    packagist_fixture_versions(&mut g);
    g.extend(npm_versions());
    g.extend(pypi_versions());
    g.extend(maven_versions());
    let pairs = pairs(&g, MIN_PAIRS + 6000, 0x05ee_dc0e);
    let script = oracle("composer_compare.php");
    let autoload = "/usr/share/php/Composer/Semver/autoload.php";
    assert!(Path::new(autoload).exists(), "{autoload} missing; {SETUP}");
    let reference = run_ref(
        "php",
        &[&script, autoload],
        &tsv(&pairs),
        "php + composer/semver",
    );
    check(Scheme::Composer, &pairs, &reference);
}
