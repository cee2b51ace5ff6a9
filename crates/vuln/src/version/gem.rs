//! RubyGems version ordering and requirements (`~> 1.2`, `>= 1.0, < 2`).
//!
//! Hand-written: no maintained Rust crate implements `Gem::Version#<=>`; this follows rubygems' canonical
//! segments (numbers and letter runs; a letter segment makes a pre-release; trailing zeros ignored).

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Num(u64),
    Str(String),
}

fn segments(v: &str) -> Result<Vec<Seg>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Err("empty version".into());
    }
    if !v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(format!("invalid gem version `{v}`"));
    }
    let v = v.replace('-', ".pre.");
    let mut out = Vec::new();
    for part in v.split('.') {
        let mut cur = String::new();
        let mut digit: Option<bool> = None;
        for c in part.chars() {
            let d = c.is_ascii_digit();
            if digit.is_some_and(|x| x != d) {
                out.push(seg(&cur, digit == Some(true))?);
                cur.clear();
            }
            digit = Some(d);
            cur.push(c);
        }
        if !cur.is_empty() {
            out.push(seg(&cur, digit == Some(true))?);
        }
    }
    // canonical: drop trailing zeros of the release part and zeros right before the pre-release part
    let pre_at = out
        .iter()
        .position(|s| matches!(s, Seg::Str(_)))
        .unwrap_or(out.len());
    let (mut rel, pre) = (out[..pre_at].to_vec(), out[pre_at..].to_vec());
    while rel.len() > 1 && rel.last() == Some(&Seg::Num(0)) {
        rel.pop();
    }
    rel.extend(pre);
    Ok(rel)
}

fn seg(s: &str, digit: bool) -> Result<Seg, String> {
    if digit {
        s.parse()
            .map(Seg::Num)
            .map_err(|_| format!("number `{s}` too large"))
    } else {
        Ok(Seg::Str(s.to_string()))
    }
}

/// Compares two gem versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, String> {
    let (a, b) = (segments(a)?, segments(b)?);
    for i in 0..a.len().max(b.len()) {
        let o = match (a.get(i), b.get(i)) {
            (Some(Seg::Num(x)), Some(Seg::Num(y))) => x.cmp(y),
            (Some(Seg::Str(x)), Some(Seg::Str(y))) => x.cmp(y),
            (Some(Seg::Num(_)), Some(Seg::Str(_))) => Ordering::Greater,
            (Some(Seg::Str(_)), Some(Seg::Num(_))) => Ordering::Less,
            (Some(Seg::Num(x)), None) => x.cmp(&0),
            (None, Some(Seg::Num(y))) => 0.cmp(y),
            (Some(Seg::Str(_)), None) => Ordering::Less,
            (None, Some(Seg::Str(_))) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return Ok(o);
        }
    }
    Ok(Ordering::Equal)
}

/// The upper bound of `~> v`: drop the last release segment and bump the one before it.
fn bump(v: &str) -> Result<String, String> {
    let nums: Vec<&str> = v
        .split('.')
        .take_while(|p| p.chars().all(|c| c.is_ascii_digit()))
        .collect();
    let mut nums: Vec<u64> = nums
        .iter()
        .map(|n| n.parse::<u64>().map_err(|_| format!("bad segment `{n}`")))
        .collect::<Result<_, _>>()?;
    if nums.len() > 1 {
        nums.pop();
    }
    if let Some(last) = nums.last_mut() {
        *last += 1;
    }
    Ok(nums
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join("."))
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
        assert_eq!(compare("1.0", "1.0.0").unwrap(), Ordering::Equal);
        assert!(satisfies("2.1.5", "~> 2.1, >= 2.1.3").unwrap());
        assert!(!satisfies("2.2.0", "~> 2.1.3").unwrap());
        assert!(satisfies("2.9", "~> 2.1").unwrap());
        assert!(!satisfies("3.0", "~> 2.1").unwrap());
    }
}
