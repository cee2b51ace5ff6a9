//! Maven version ordering (`ComparableVersion`) and Maven/NuGet interval ranges (`[1.0,2.0)`, `(,1.2],[1.5,)`).
//!
//! Hand-written: no maintained Rust crate implements Maven 3's `ComparableVersion`. This is a line-by-line port
//! of `org.apache.maven.artifact.versioning.ComparableVersion` (maven-artifact 3.9): the same tokeniser (a `-`, a
//! digit/letter transition and a `.X` qualifier open a sub-list), the same int/long/BigInteger item kinds, the
//! same normalisation (trailing null items dropped) and the same comparison table. The differential test runs the
//! real class on the same pairs.

use std::cmp::Ordering;

/// Maven's well-known qualifiers, in order; an unknown qualifier sorts after all of them, lexically.
const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

/// Maven's numeric item kinds: an int item is always below a long item, a long item below a big one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum NumKind {
    Int,
    Long,
    Big,
}

#[derive(Debug, Clone)]
enum Item {
    /// A number: its kind (by digit count, as Maven picks it) and its digits without leading zeros.
    Num(NumKind, String),
    /// A qualifier (lower case, aliases applied).
    Str(String),
    /// A sub-list (after `-` or a digit/letter transition).
    List(Vec<Item>),
}

/// Maven's `comparableQualifier`: the index of a known qualifier, else `7-<qualifier>` (compared as strings).
fn comparable_qualifier(q: &str) -> String {
    match QUALIFIERS.iter().position(|x| *x == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{q}", QUALIFIERS.len()),
    }
}

/// The comparable form of the empty (release) qualifier.
fn release_index() -> String {
    comparable_qualifier("")
}

fn string_item(value: &str, followed_by_digit: bool) -> Item {
    let mut v = value;
    if followed_by_digit && v.chars().count() == 1 {
        v = match v {
            "a" => "alpha",
            "b" => "beta",
            "m" => "milestone",
            o => o,
        };
    }
    let v = match v {
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        o => o,
    };
    Item::Str(v.to_string())
}

fn num_item(digits: &str) -> Item {
    // Maven strips leading zeros but keeps an all-zero string as it is, then picks the kind by length.
    let stripped = match digits.find(|c| c != '0') {
        Some(i) => &digits[i..],
        None if digits.is_empty() => "0",
        None => digits,
    };
    let kind = match stripped.len() {
        0..=9 => NumKind::Int,
        10..=18 => NumKind::Long,
        _ => NumKind::Big,
    };
    let value = stripped.trim_start_matches('0');
    Item::Num(kind, value.to_string())
}

fn parse_item(is_digit: bool, buf: &str) -> Item {
    if is_digit {
        num_item(buf)
    } else {
        string_item(buf, false)
    }
}

fn cmp_digits(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Num(_, v) => v.is_empty(),
            Item::Str(s) => comparable_qualifier(s) == release_index(),
            Item::List(l) => l.is_empty(),
        }
    }

    /// `Item.compareTo(other)`; `None` is Java's `null` (the other version has no item here).
    fn compare(&self, other: Option<&Item>) -> Ordering {
        match (self, other) {
            (Item::Num(_, v), None) => {
                if v.is_empty() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Item::Str(s), None) => comparable_qualifier(s).cmp(&release_index()),
            (Item::List(l), None) => l
                .iter()
                .map(|i| i.compare(None))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal),
            (Item::Num(ka, a), Some(Item::Num(kb, b))) => ka.cmp(kb).then_with(|| cmp_digits(a, b)),
            (Item::Num(..), Some(_)) => Ordering::Greater,
            (Item::Str(_), Some(Item::Num(..) | Item::List(_))) => Ordering::Less,
            (Item::Str(a), Some(Item::Str(b))) => {
                comparable_qualifier(a).cmp(&comparable_qualifier(b))
            }
            (Item::List(_), Some(Item::Num(..))) => Ordering::Less,
            (Item::List(_), Some(Item::Str(_))) => Ordering::Greater,
            (Item::List(a), Some(Item::List(b))) => {
                for i in 0..a.len().max(b.len()) {
                    let o = match (a.get(i), b.get(i)) {
                        (Some(l), r) => l.compare(r),
                        (None, Some(r)) => r.compare(None).reverse(),
                        (None, None) => Ordering::Equal,
                    };
                    if o.is_ne() {
                        return o;
                    }
                }
                Ordering::Equal
            }
        }
    }
}

/// Parse-time list node: items, where a sub-list is a reference into the arena.
enum Node {
    Leaf(Item),
    Sub(usize),
}

/// `ListItem.normalize()`: drop null items from the end, stepping over (non-null) sub-lists.
fn normalize(arena: &mut [Vec<Node>], idx: usize) {
    let mut i = arena[idx].len();
    while i > 0 {
        i -= 1;
        let null = match &arena[idx][i] {
            Node::Leaf(item) => item.is_null(),
            Node::Sub(j) => arena[*j].is_empty(),
        };
        if null {
            arena[idx].remove(i);
        } else if matches!(arena[idx][i], Node::Leaf(_)) {
            break;
        }
    }
}

fn build(arena: &mut Vec<Vec<Node>>, idx: usize) -> Item {
    let nodes = std::mem::take(&mut arena[idx]);
    Item::List(
        nodes
            .into_iter()
            .map(|n| match n {
                Node::Leaf(item) => item,
                Node::Sub(j) => build(arena, j),
            })
            .collect(),
    )
}

/// `ComparableVersion.parseVersion`.
fn parse(version: &str) -> Item {
    let version = version.to_lowercase();
    let mut arena: Vec<Vec<Node>> = vec![Vec::new()];
    let mut stack = vec![0usize];
    let mut list = 0usize;
    // opens a sub-list inside `list` and makes it the current one
    let open = |arena: &mut Vec<Vec<Node>>, stack: &mut Vec<usize>, list: &mut usize| {
        arena.push(Vec::new());
        let j = arena.len() - 1;
        arena[*list].push(Node::Sub(j));
        stack.push(j);
        *list = j;
    };
    let mut is_digit = false;
    let mut start = 0usize;
    for (i, c) in version.char_indices() {
        if c == '.' || c == '-' {
            let item = if i == start {
                num_item("0")
            } else {
                parse_item(is_digit, &version[start..i])
            };
            arena[list].push(Node::Leaf(item));
            start = i + 1;
            if c == '-' {
                open(&mut arena, &mut stack, &mut list);
            }
        } else if c.is_ascii_digit() {
            if !is_digit && i > start {
                // 1.0.0.X1 < 1.0.0-X2: treat .X as -X for any string qualifier X
                if !arena[list].is_empty() {
                    open(&mut arena, &mut stack, &mut list);
                }
                arena[list].push(Node::Leaf(string_item(&version[start..i], true)));
                start = i;
                open(&mut arena, &mut stack, &mut list);
            }
            is_digit = true;
        } else {
            if is_digit && i > start {
                arena[list].push(Node::Leaf(parse_item(true, &version[start..i])));
                start = i;
                open(&mut arena, &mut stack, &mut list);
            }
            is_digit = false;
        }
    }
    if version.len() > start {
        if !is_digit && !arena[list].is_empty() {
            open(&mut arena, &mut stack, &mut list);
        }
        arena[list].push(Node::Leaf(parse_item(is_digit, &version[start..])));
    }
    while let Some(idx) = stack.pop() {
        normalize(&mut arena, idx);
    }
    build(&mut arena, 0)
}

/// Compares two Maven versions exactly as Maven's `ComparableVersion.compareTo` does. Every string is a version to
/// Maven; surrounding white space is dropped and an empty version is refused (no advisory means one).
pub fn compare(a: &str, b: &str) -> Result<Ordering, String> {
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() || b.is_empty() {
        return Err("empty version".into());
    }
    Ok(parse(a).compare(Some(&parse(b))))
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
