//! NuGet version ordering (`major.minor.patch[.revision][-pre][+meta]`).
//!
//! Hand-written: no maintained Rust crate implements NuGet's `NuGetVersion` comparison (4 numeric parts,
//! case-insensitive pre-release labels, metadata ignored).

use std::cmp::Ordering;

fn parse(v: &str) -> Result<([u64; 4], Vec<String>), String> {
    let v = v.trim();
    let v = v.split_once('+').map_or(v, |(a, _)| a);
    let (rel, pre) = match v.split_once('-') {
        Some((r, p)) => (r, Some(p)),
        None => (v, None),
    };
    let mut nums = [0u64; 4];
    let parts: Vec<&str> = rel.split('.').collect();
    if parts.is_empty() || parts.len() > 4 || parts[0].is_empty() {
        return Err(format!("`{rel}` is not 1 to 4 numbers"));
    }
    for (i, p) in parts.iter().enumerate() {
        nums[i] = p.parse().map_err(|_| format!("`{p}` is not a number"))?;
    }
    let pre = pre
        .map(|p| p.split('.').map(|s| s.to_ascii_lowercase()).collect())
        .unwrap_or_default();
    Ok((nums, pre))
}

/// Compares two NuGet versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, String> {
    let (na, pa) = parse(a)?;
    let (nb, pb) = parse(b)?;
    Ok(na
        .cmp(&nb)
        .then_with(|| match (pa.is_empty(), pb.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                for i in 0..pa.len().max(pb.len()) {
                    let o = match (pa.get(i), pb.get(i)) {
                        (Some(x), Some(y)) => match (x.parse::<u64>(), y.parse::<u64>()) {
                            (Ok(x), Ok(y)) => x.cmp(&y),
                            (Ok(_), Err(_)) => Ordering::Less,
                            (Err(_), Ok(_)) => Ordering::Greater,
                            _ => x.cmp(y),
                        },
                        (Some(_), None) => Ordering::Greater,
                        (None, Some(_)) => Ordering::Less,
                        (None, None) => Ordering::Equal,
                    };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            }
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_known_pairs() {
        let lt = |a, b| assert_eq!(compare(a, b).unwrap(), Ordering::Less, "{a} < {b}");
        lt("1.0.0-beta", "1.0.0");
        lt("1.0.0-Alpha.2", "1.0.0-alpha.10");
        lt("1.0", "1.0.0.1");
        assert_eq!(compare("1.0", "1.0.0.0").unwrap(), Ordering::Equal);
        assert_eq!(compare("1.0.0+abc", "1.0.0").unwrap(), Ordering::Equal);
    }
}
