//! RubyGems version ordering and requirements (`~> 1.2`, `>= 1.0, < 2`).
//!
//! Hand-written: no maintained Rust crate implements `Gem::Version#<=>`. This follows rubygems' own code: the
//! `ANCHORED_VERSION_PATTERN` check, `-` → `.pre.`, segments scanned as digit runs and letter runs, canonical
//! segments (trailing zeros of the release part and of the pre-release part dropped), then segment-wise comparison
//! where a missing segment is `0` and a letter segment is below any number. Numeric segments may be of any length
//! (Ruby integers are unbounded), so they are compared as digit strings.

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    /// Digits without leading zeros (`""` is zero).
    Num(String),
    Str(String),
}

/// `Gem::Version::ANCHORED_VERSION_PATTERN` (Ruby's `\s` is ASCII white space).
static PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^[ \t\r\n\x0c\x0b]*([0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?)?[ \t\r\n\x0c\x0b]*$",
    )
    .expect("valid regex")
});

fn is_zero(s: &Seg) -> bool {
    matches!(s, Seg::Num(n) if n.is_empty())
}

fn segments(v: &str) -> Result<Vec<Seg>, String> {
    if !PATTERN.is_match(v) {
        return Err(format!(
            "malformed gem version `{v}` (RubyGems wants digits, then `.`-separated letters or digits, then an \
             optional `-` pre-release part)"
        ));
    }
    let v = v.trim_matches([' ', '\t', '\r', '\n', '\x0c', '\x0b']);
    let v = if v.is_empty() {
        "0".to_string()
    } else {
        v.replace('-', ".pre.")
    };
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut digit = false;
    for c in v.chars() {
        let d = c.is_ascii_digit();
        if (!c.is_ascii_alphanumeric() || d != digit) && !cur.is_empty() {
            out.push(seg(&cur, digit));
            cur.clear();
        }
        if c.is_ascii_alphanumeric() {
            digit = d;
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(seg(&cur, digit));
    }
    // canonical segments: drop trailing zeros of the numeric part and of the string part
    let pre_at = out
        .iter()
        .position(|s| matches!(s, Seg::Str(_)))
        .unwrap_or(out.len());
    let mut pre = out.split_off(pre_at);
    while out.last().is_some_and(is_zero) {
        out.pop();
    }
    while pre.last().is_some_and(is_zero) {
        pre.pop();
    }
    out.extend(pre);
    Ok(out)
}

fn seg(s: &str, digit: bool) -> Seg {
    if digit {
        Seg::Num(s.trim_start_matches('0').to_string())
    } else {
        Seg::Str(s.to_string())
    }
}

fn cmp_num(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Compares two gem versions as `Gem::Version#<=>` does.
pub fn compare(a: &str, b: &str) -> Result<Ordering, String> {
    let (a, b) = (segments(a)?, segments(b)?);
    let zero = Seg::Num(String::new());
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i).unwrap_or(&zero), b.get(i).unwrap_or(&zero));
        let o = match (x, y) {
            (Seg::Num(x), Seg::Num(y)) => cmp_num(x, y),
            (Seg::Str(x), Seg::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
            (Seg::Num(_), Seg::Str(_)) => Ordering::Greater,
            (Seg::Str(_), Seg::Num(_)) => Ordering::Less,
        };
        if o != Ordering::Equal {
            return Ok(o);
        }
    }
    Ok(Ordering::Equal)
}

/// Adds one to a decimal digit string of any length.
fn increment(n: &str) -> String {
    let mut digits: Vec<u8> = n.bytes().collect();
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return String::from_utf8(digits).expect("ASCII digits");
        }
    }
    format!("1{}", String::from_utf8(digits).expect("ASCII digits"))
}

/// The upper bound of `~> v` (`Gem::Version#bump`): drop the pre-release part and the last release segment, then
/// bump the one before it.
fn bump(v: &str) -> Result<String, String> {
    segments(v)?;
    let v = v.trim();
    let mut nums: Vec<&str> = v
        .split('.')
        .take_while(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
        .collect();
    if nums.len() > 1 {
        nums.pop();
    }
    let mut nums: Vec<String> = nums.into_iter().map(str::to_string).collect();
    if let Some(last) = nums.last_mut() {
        *last = increment(last);
    }
    Ok(nums.join("."))
}

/// Whether `version` satisfies every comma-separated requirement in `req` (`~> 2.1, >= 2.1.3`).
pub fn satisfies(version: &str, req: &str) -> Result<bool, String> {
    for part in req.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (op, v) = split_op(part);
        let v = v.trim();
        let c = compare(version, v)?;
        let ok = match op {
            "~>" => c != Ordering::Less && compare(version, &bump(v)?)? == Ordering::Less,
            ">=" => c != Ordering::Less,
            ">" => c == Ordering::Greater,
            "<=" => c != Ordering::Greater,
            "<" => c == Ordering::Less,
            "!=" => c != Ordering::Equal,
            "=" | "" => c == Ordering::Equal,
            _ => return Err(format!("unknown operator `{op}`")),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn split_op(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !"~<>=!".contains(c)).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_and_requirements() {
        let lt = |a, b| assert_eq!(compare(a, b).unwrap(), Ordering::Less, "{a} < {b}");
        lt("1.0.0.rc1", "1.0.0");
        lt("1.0.a", "1.0");
        lt("1.9", "1.10");
        lt("5.2.4.rc1", "5.2.4.1");
        lt("1.0.0.pre", "1.0.0");
        lt("1.2-3", "1.2");
        lt("1.2.3", "1.2.30000000000000000000000000000000");
        lt(
            "100000000000000000000000000000",
            "100000000000000000000000000001",
        );
        assert_eq!(compare("1.0.a", "1.a").unwrap(), Ordering::Equal);
        assert!(compare("a1", "1").is_err());
        assert!(compare("1..2", "1").is_err());
        assert!(satisfies("10000000000000000000001.5", "~> 10000000000000000000001.2").unwrap());
        assert!(!satisfies("10000000000000000000002.0", "~> 10000000000000000000001.2").unwrap());
        assert_eq!(increment("999"), "1000");
        assert_eq!(compare("1.0", "1.0.0").unwrap(), Ordering::Equal);
        assert!(satisfies("2.1.5", "~> 2.1, >= 2.1.3").unwrap());
        assert!(!satisfies("2.2.0", "~> 2.1.3").unwrap());
        assert!(satisfies("2.9", "~> 2.1").unwrap());
        assert!(!satisfies("3.0", "~> 2.1").unwrap());
    }
}
