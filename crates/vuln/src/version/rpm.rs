//! RPM version ordering (`[epoch:]version[-release]`, `~` pre-release and `^` post-release separators).
//!
//! Hand-written: the Rust rpm crates either wrap librpm (C) or do not implement `^`; this ports rpm 4.18's
//! `rpmvercmp` and is checked against rpm's own comparison (`python3-rpm`) by the differential test.

use std::cmp::Ordering;

/// Compares two rpm version strings segment by segment (`rpmvercmp`).
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while i < a.len() && sep(a[i]) {
            i += 1;
        }
        while j < b.len() && sep(b[j]) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        if ca.is_none() && cb.is_none() {
            return Ordering::Equal;
        }
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Ordering::Less;
            }
            if cb.is_none() {
                return Ordering::Greater;
            }
            if ca != Some(b'^') {
                return Ordering::Greater;
            }
            if cb != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(ca), Some(_)) = (ca, cb) else {
            break;
        };
        let (si, sj) = (i, j);
        let isnum = ca.is_ascii_digit();
        if isnum {
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
        } else {
            while i < a.len() && a[i].is_ascii_alphabetic() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_alphabetic() {
                j += 1;
            }
        }
        if sj == j {
            return if isnum {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut sa, mut sb) = (&a[si..i], &b[sj..j]);
        if isnum {
            while sa.len() > 1 && sa[0] == b'0' {
                sa = &sa[1..];
            }
            while sb.len() > 1 && sb[0] == b'0' {
                sb = &sb[1..];
            }
            if sa.len() != sb.len() {
                return sa.len().cmp(&sb.len());
            }
        }
        match sa.cmp(sb) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    let (ea, eb) = (i >= a.len(), j >= b.len());
    match (ea, eb) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// Splits `[epoch:]version[-release]`.
fn split(v: &str) -> Result<(u64, &str, Option<&str>), String> {
    let v = v.trim();
    if v.is_empty() {
        return Err("empty version".into());
    }
    // as rpm's parseEVR: an epoch is leading digits directly followed by `:`; otherwise `:` is part of the version
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    let (epoch, rest) = if v.as_bytes().get(digits) == Some(&b':') {
        let e = &v[..digits];
        let epoch = if e.is_empty() {
            0
        } else {
            e.parse::<u64>()
                .map_err(|_| format!("epoch `{e}` is too large"))?
        };
        (epoch, &v[digits + 1..])
    } else {
        (0, v)
    };
    let (ver, rel) = match rest.rsplit_once('-') {
        Some((ver, rel)) => (ver, Some(rel)),
        None => (rest, None),
    };
    if ver.is_empty() {
        return Err("empty version part".into());
    }
    Ok((epoch, ver, rel))
}

/// Compares two full rpm EVR strings as rpm does (a missing release sorts before any release).
pub fn compare(a: &str, b: &str) -> Result<Ordering, String> {
    let (ea, va, ra) = split(a)?;
    let (eb, vb, rb) = split(b)?;
    Ok(ea
        .cmp(&eb)
        .then_with(|| rpmvercmp(va, vb))
        .then_with(|| match (ra, rb) {
            (Some(x), Some(y)) => rpmvercmp(x, y),
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_known_pairs() {
        let lt = |a, b| assert_eq!(compare(a, b).unwrap(), Ordering::Less, "{a} < {b}");
        lt("1.0~rc1", "1.0");
        lt("1.0", "1.0^git1");
        lt("1.0^git1", "1.0.1");
        lt("1.9", "1.10");
        lt("1.0-1", "1:0.5-1");
        lt("1.0a", "1.0.1");
        assert_eq!(compare("1.01", "1.1").unwrap(), Ordering::Equal);
    }
}
