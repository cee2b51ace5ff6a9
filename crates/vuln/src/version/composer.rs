//! Composer (Packagist) version ordering: Composer's normalisation (`v` prefix, 4 numeric parts) followed by
//! PHP's `version_compare`.
//!
//! Hand-written: no Rust crate implements PHP's `version_compare` special forms
//! (`dev < alpha = a < beta = b < RC = rc < # < pl = p`).

use std::cmp::Ordering;

fn normalize(v: &str) -> Result<String, String> {
    let v = v.trim();
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    if v.is_empty() || !v.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("`{v}` does not start with a number"));
    }
    let num_end = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (nums, rest) = v.split_at(num_end);
    let mut parts: Vec<&str> = nums.trim_end_matches('.').split('.').collect();
    while parts.len() < 4 {
        parts.push("0");
    }
    Ok(format!("{}{}", parts.join("."), rest))
}

fn canonical(v: &str) -> Vec<String> {
    let mut out = String::new();
    let mut prev: Option<char> = None;
    for c in v.chars() {
        let c = if matches!(c, '-' | '_' | '+') { '.' } else { c };
        if let Some(p) = prev
            && p != '.'
            && c != '.'
            && p.is_ascii_digit() != c.is_ascii_digit()
        {
            out.push('.');
        }
        out.push(c);
        prev = Some(c);
    }
    out.split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn special(s: &str) -> i32 {
    const FORMS: [(&str, i32); 10] = [
        ("dev", 0),
        ("alpha", 1),
        ("a", 1),
        ("beta", 2),
        ("b", 2),
        ("RC", 3),
        ("rc", 3),
        ("#", 4),
        ("pl", 5),
        ("p", 5),
    ];
    FORMS
        .iter()
        .find(|(f, _)| s.starts_with(f))
        .map_or(-6, |(_, n)| *n)
}

fn cmp_part(a: &str, b: &str) -> Ordering {
    let (da, db) = (
        a.starts_with(|c: char| c.is_ascii_digit()),
        b.starts_with(|c: char| c.is_ascii_digit()),
    );
    match (da, db) {
        (true, true) => {
            let (x, y) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
            x.len().cmp(&y.len()).then_with(|| x.cmp(y))
        }
        (false, false) => special(a).cmp(&special(b)),
        (true, false) => special("#").cmp(&special(b)),
        (false, true) => special(a).cmp(&special("#")),
    }
}

/// Compares two Composer versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, String> {
    let (a, b) = (canonical(&normalize(a)?), canonical(&normalize(b)?));
    for i in 0..a.len().max(b.len()) {
        let o = match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) => cmp_part(x, y),
            (Some(x), None) => {
                if x.starts_with(|c: char| c.is_ascii_digit()) {
                    Ordering::Greater
                } else {
                    cmp_part(x, "#")
                }
            }
            (None, Some(y)) => {
                if y.starts_with(|c: char| c.is_ascii_digit()) {
                    Ordering::Less
                } else {
                    cmp_part("#", y)
                }
            }
            (None, None) => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return Ok(o);
        }
    }
    Ok(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_known_pairs() {
        let lt = |a, b| assert_eq!(compare(a, b).unwrap(), Ordering::Less, "{a} < {b}");
        lt("1.0.0-beta2", "1.0.0");
        lt("1.0.0-RC1", "1.0.0");
        lt("1.0.0-alpha", "1.0.0-beta");
        lt("1.0.0", "1.0.0-p1");
        lt("v2.9.9", "2.10");
        assert_eq!(compare("v1.2", "1.2.0").unwrap(), Ordering::Equal);
    }
}
