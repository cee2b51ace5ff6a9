//! Alpine (apk) version ordering: `digits{.digits}[letter]{_suffix[digits]}[~hash][-r<n>]`.
//!
//! Hand-written: no Rust crate implements apk-tools' ordering; this follows apk-tools' `version.c` token order
//! (`_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`, then `-r` revision).

use std::cmp::Ordering;

#[derive(Debug, PartialEq, Eq)]
struct Apk {
    numbers: Vec<String>,
    letter: Option<u8>,
    suffixes: Vec<(i32, u64)>,
    revision: u64,
}

fn suffix_rank(s: &str) -> Option<i32> {
    Some(match s {
        "alpha" => -4,
        "beta" => -3,
        "pre" => -2,
        "rc" => -1,
        "cvs" => 1,
        "svn" => 2,
        "git" => 3,
        "hg" => 4,
        "p" => 5,
        _ => return None,
    })
}

fn parse(v: &str) -> Result<Apk, String> {
    let v = v.trim();
    let (main, revision) = match v.rsplit_once("-r") {
        Some((m, r)) => (
            m,
            r.parse::<u64>()
                .map_err(|_| format!("revision `-r{r}` is not a number"))?,
        ),
        None => (v, 0),
    };
    let main = main.split_once('~').map(|(m, _)| m).unwrap_or(main);
    let (head, suffix_part) = match main.split_once('_') {
        Some((h, s)) => (h, Some(s)),
        None => (main, None),
    };
    let mut letter = None;
    let mut head = head;
    if let Some(&last) = head.as_bytes().last()
        && last.is_ascii_alphabetic()
    {
        letter = Some(last);
        head = &head[..head.len() - 1];
    }
    if head.is_empty() {
        return Err("version must start with a number".into());
    }
    let mut numbers = Vec::new();
    for n in head.split('.') {
        if n.is_empty() || !n.bytes().all(|c| c.is_ascii_digit()) {
            return Err(format!("`{n}` is not a number"));
        }
        numbers.push(n.to_string());
    }
    let mut suffixes = Vec::new();
    if let Some(sp) = suffix_part {
        for s in sp.split('_') {
            let name_end = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
            let rank =
                suffix_rank(&s[..name_end]).ok_or_else(|| format!("unknown suffix `_{s}`"))?;
            let num = if name_end < s.len() {
                s[name_end..]
                    .parse::<u64>()
                    .map_err(|_| format!("bad suffix number in `_{s}`"))?
            } else {
                0
            };
            suffixes.push((rank, num));
        }
    }
    Ok(Apk {
        numbers,
        letter,
        suffixes,
        revision,
    })
}

fn cmp_num(i: usize, a: &str, b: &str) -> Ordering {
    // apk compares components after the first with a leading zero as decimal fractions (string order).
    if i > 0 && (a.starts_with('0') || b.starts_with('0')) {
        return a.cmp(b);
    }
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Compares two apk versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, String> {
    let (a, b) = (parse(a)?, parse(b)?);
    for i in 0..a.numbers.len().max(b.numbers.len()) {
        match (a.numbers.get(i), b.numbers.get(i)) {
            (Some(x), Some(y)) => match cmp_num(i, x, y) {
                Ordering::Equal => {}
                o => return Ok(o),
            },
            (Some(_), None) => return Ok(Ordering::Greater),
            (None, Some(_)) => return Ok(Ordering::Less),
            (None, None) => {}
        }
    }
    match a.letter.cmp(&b.letter) {
        Ordering::Equal => {}
        o => return Ok(o),
    }
    for i in 0..a.suffixes.len().max(b.suffixes.len()) {
        let x = a.suffixes.get(i).copied().unwrap_or((0, 0));
        let y = b.suffixes.get(i).copied().unwrap_or((0, 0));
        match x.cmp(&y) {
            Ordering::Equal => {}
            o => return Ok(o),
        }
    }
    Ok(a.revision.cmp(&b.revision))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_known_pairs() {
        let lt = |a, b| assert_eq!(compare(a, b).unwrap(), Ordering::Less, "{a} < {b}");
        lt("1.2.3_rc1-r0", "1.2.3-r0");
        lt("1.2.3-r0", "1.2.3-r1");
        lt("1.2.3-r9", "1.2.3_p1-r0");
        lt("1.1.1k-r0", "1.1.1l-r0");
        lt("1.2", "1.2.1");
        lt("2.9.10", "2.10.0");
        lt("1.0_alpha", "1.0_beta2");
        assert!(compare("abc", "1").is_err());
    }
}
