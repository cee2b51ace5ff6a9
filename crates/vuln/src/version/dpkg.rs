//! Debian (dpkg) version ordering.
//!
//! Hand-written: no maintained Rust crate implements dpkg's `verrevcmp`; this follows dpkg's `lib/dpkg/version.c`
//! (epoch, upstream, revision; `~` sorts before everything, letters before non-letters) and is checked against
//! `dpkg --compare-versions` by the differential test.

use std::cmp::Ordering;

/// A parsed `[epoch:]upstream[-revision]` version.
struct Dpkg<'a> {
    epoch: u64,
    upstream: &'a str,
    revision: &'a str,
}

fn parse(v: &str) -> Result<Dpkg<'_>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Err("empty version".into());
    }
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) => {
            let epoch = e
                .parse::<u64>()
                .map_err(|_| format!("epoch `{e}` is not a number"))?;
            (epoch, rest)
        }
        None => (0, v),
    };
    let (upstream, revision) = match rest.rfind('-') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    if upstream.is_empty() {
        return Err("empty upstream version".into());
    }
    if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("upstream version must start with a digit".into());
    }
    if let Some(c) = rest
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ".+-~:".contains(*c)))
    {
        return Err(format!("invalid character `{c}`"));
    }
    Ok(Dpkg {
        epoch,
        upstream,
        revision,
    })
}

fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(b'~') => -1,
        Some(c) => c as i32 + 256,
    }
}

fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() || j < b.len() {
        let mut first_diff = 0i32;
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_diff == 0 {
                first_diff = a[i] as i32 - b[j] as i32;
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != 0 {
            return first_diff.cmp(&0);
        }
    }
    Ordering::Equal
}

/// Compares two dpkg versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, String> {
    let (a, b) = (parse(a)?, parse(b)?);
    Ok(a.epoch
        .cmp(&b.epoch)
        .then_with(|| verrevcmp(a.upstream, b.upstream))
        .then_with(|| verrevcmp(a.revision, b.revision)))
}

/// Checks that `v` is a valid dpkg version.
pub fn validate(v: &str) -> Result<(), String> {
    parse(v).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_known_pairs() {
        let lt = |a, b| assert_eq!(compare(a, b).unwrap(), Ordering::Less, "{a} < {b}");
        lt("1.0~rc1", "1.0");
        lt("1.0", "1:0.1");
        lt("2.36-9+deb12u3", "2.36-9+deb12u10");
        lt("1.0-1", "1.0-1+b1");
        lt("1.0a", "1.0+");
        assert_eq!(compare("1.0", "1.0-0").unwrap(), Ordering::Equal);
        assert_eq!(compare("0:1.01", "1.1").unwrap(), Ordering::Equal);
        assert!(compare("a1", "1").is_err());
        assert!(compare("x:1", "1").is_err());
    }
}
