//! Maven version ordering (`ComparableVersion`) and Maven/NuGet interval ranges (`[1.0,2.0)`, `(,1.2],[1.5,)`).
//!
//! Hand-written: no maintained Rust crate implements Maven 3's `ComparableVersion`; this follows its item model
//! (int, qualifier string, nested list on `-` and digit/letter transitions, trailing "null" items dropped).

use std::cmp::Ordering;

#[derive(Debug, Clone)]
enum Item {
    Int(String),
    Str(String),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

fn qualifier_key(q: &str) -> String {
    let q = match q {
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    match QUALIFIERS.iter().position(|x| *x == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{q}", QUALIFIERS.len()),
    }
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int(n) => n.is_empty() || n == "0",
            Item::Str(s) => qualifier_key(s) == qualifier_key(""),
            Item::List(l) => l.is_empty(),
        }
    }

    fn cmp_opt(&self, other: Option<&Item>) -> Ordering {
        match (self, other) {
            (Item::Int(_), None) => {
                if self.is_null() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Item::Str(s), None) => qualifier_key(s).cmp(&qualifier_key("")),
            (Item::List(l), None) => l.first().map_or(Ordering::Equal, |f| f.cmp_opt(None)),
            (Item::Int(a), Some(Item::Int(b))) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Item::Int(_), Some(_)) => Ordering::Greater,
            (Item::Str(_), Some(Item::Int(_))) => Ordering::Less,
            (Item::Str(a), Some(Item::Str(b))) => qualifier_key(a).cmp(&qualifier_key(b)),
            (Item::Str(_), Some(Item::List(_))) => Ordering::Less,
            (Item::List(_), Some(Item::Int(_))) => Ordering::Less,
            (Item::List(_), Some(Item::Str(_))) => Ordering::Greater,
            (Item::List(a), Some(Item::List(b))) => {
                for i in 0..a.len().max(b.len()) {
                    let o = match (a.get(i), b.get(i)) {
                        (Some(x), y) => x.cmp_opt(y),
                        (None, Some(y)) => y.cmp_opt(None).reverse(),
                        (None, None) => Ordering::Equal,
                    };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            }
        }
    }
}

fn parse_item(s: &str, followed_by_digit: bool) -> Item {
    if s.bytes().all(|c| c.is_ascii_digit()) {
        return Item::Int(s.trim_start_matches('0').to_string());
    }
    let s = if followed_by_digit && s.len() == 1 {
        match s {
            "a" => "alpha",
            "b" => "beta",
            "m" => "milestone",
            o => o,
        }
    } else {
        s
    };
    Item::Str(s.to_string())
}

fn normalize(list: &mut Vec<Item>) {
    while let Some(last) = list.last_mut() {
        if let Item::List(inner) = last {
            normalize(inner);
        }
        if last.is_null() {
            list.pop();
        } else {
            break;
        }
    }
    for item in list.iter_mut() {
        if let Item::List(inner) = item {
            normalize(inner);
        }
    }
}

/// Parses a version into nested item lists (a path of `List` indices models Maven's stack).
fn parse(v: &str) -> Result<Item, String> {
    let v = v.trim().to_ascii_lowercase();
    if v.is_empty() {
        return Err("empty version".into());
    }
    // Each `-` or digit/letter transition opens a sublist nested in the current one; build it as a chain.
    let mut chain: Vec<Vec<Item>> = vec![Vec::new()];
    let bytes = v.as_bytes();
    let mut start = 0usize;
    let mut is_digit = false;
    let push_sub = |chain: &mut Vec<Vec<Item>>| chain.push(Vec::new());
    for i in 0..bytes.len() {
        let c = bytes[i];
        let cur = chain.len() - 1;
        if c == b'.' {
            if i == start {
                chain[cur].push(Item::Int(String::new()));
            } else {
                chain[cur].push(parse_item(&v[start..i], false));
            }
            start = i + 1;
        } else if c == b'-' {
            if i == start {
                chain[cur].push(Item::Int(String::new()));
            } else {
                chain[cur].push(parse_item(&v[start..i], false));
            }
            start = i + 1;
            push_sub(&mut chain);
        } else if c.is_ascii_digit() {
            if !is_digit && i > start {
                chain[cur].push(parse_item(&v[start..i], true));
                start = i;
                push_sub(&mut chain);
            }
            is_digit = true;
        } else {
            if is_digit && i > start {
                chain[cur].push(parse_item(&v[start..i], false));
                start = i;
                push_sub(&mut chain);
            }
            is_digit = false;
        }
    }
    if bytes.len() > start {
        let cur = chain.len() - 1;
        chain[cur].push(parse_item(&v[start..], false));
    }
    // fold the chain: each list is the last element of its parent
    let mut acc: Option<Vec<Item>> = None;
    while let Some(mut list) = chain.pop() {
        if let Some(child) = acc.take() {
            list.push(Item::List(child));
        }
        normalize(&mut list);
        acc = Some(list);
    }
    Ok(Item::List(acc.unwrap_or_default()))
}

/// Compares two Maven versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, String> {
    Ok(parse(a)?.cmp_opt(Some(&parse(b)?)))
}

/// Whether `version` lies in a Maven/NuGet interval range list (`[1.0,2.0)`, `(,1.0],[1.2,)`, `[1.5]`); a bare
/// version means exactly that version. `cmp` is the scheme's comparator.
pub fn in_intervals(
    version: &str,
    range: &str,
    cmp: impl Fn(&str, &str) -> Result<Ordering, String>,
) -> Result<bool, String> {
    let range = range.trim();
    if !range.starts_with(['[', '(']) {
        return Ok(cmp(version, range)? == Ordering::Equal);
    }
    let mut rest = range;
    while !rest.is_empty() {
        let open = rest.as_bytes()[0];
        if open != b'[' && open != b'(' {
            return Err(format!("expected `[` or `(` at `{rest}`"));
        }
        let end = rest
            .find([']', ')'])
            .ok_or_else(|| format!("unclosed interval in `{range}`"))?;
        let close = rest.as_bytes()[end];
        let body = &rest[1..end];
        let hit = match body.split_once(',') {
            None => {
                if open != b'[' || close != b']' {
                    return Err(format!(
                        "single version `{body}` must be written `[{body}]`"
                    ));
                }
                cmp(version, body.trim())? == Ordering::Equal
            }
            Some((lo, hi)) => {
                let (lo, hi) = (lo.trim(), hi.trim());
                let lo_ok = lo.is_empty() || {
                    let c = cmp(version, lo)?;
                    c == Ordering::Greater || (open == b'[' && c == Ordering::Equal)
                };
                let hi_ok = hi.is_empty() || {
                    let c = cmp(version, hi)?;
                    c == Ordering::Less || (close == b']' && c == Ordering::Equal)
                };
                lo_ok && hi_ok
            }
        };
        if hit {
            return Ok(true);
        }
        rest = rest[end + 1..].trim_start_matches([',', ' ']);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_known_pairs() {
        let lt = |a, b| assert_eq!(compare(a, b).unwrap(), Ordering::Less, "{a} < {b}");
        lt("1.0-alpha1", "1.0-beta1");
        lt("1.0-rc1", "1.0");
        lt("1.0-SNAPSHOT", "1.0");
        lt("1.0", "1.0-sp1");
        lt("1.0", "1.0.1");
        lt("2.9", "2.10");
        lt("1.0.0.Final", "1.0.1");
        lt("2.12.7", "2.12.7.1");
        assert_eq!(compare("1.0", "1.0.0").unwrap(), Ordering::Equal);
        assert_eq!(compare("1.0.Final", "1.0").unwrap(), Ordering::Equal);
        assert_eq!(compare("1-ga", "1").unwrap(), Ordering::Equal);
    }

    #[test]
    fn intervals() {
        let r = |v, r| in_intervals(v, r, compare).unwrap();
        assert!(r("1.5", "[1.0,2.0)"));
        assert!(!r("2.0", "[1.0,2.0)"));
        assert!(r("0.5", "(,1.0],[1.2,)"));
        assert!(!r("1.1", "(,1.0],[1.2,)"));
        assert!(r("1.2", "(,1.0],[1.2,)"));
        assert!(r("1.5", "[1.5]"));
    }
}
