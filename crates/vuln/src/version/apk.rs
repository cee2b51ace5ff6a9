//! Alpine (apk) version ordering: `digits{.digits}{letter}{_suffix{digits}}{-r<n>}`, letters may be followed by
//! more digits (`5.7.1p1-r0`, `1.8.28p1-r1`).
//!
//! Hand-written: no Rust crate implements apk-tools' ordering. This is a port of apk-tools' `version.c` token
//! machine (`next_token`/`get_token`/`apk_version_compare_blob`): the same token types and transitions, leading
//! zeros of a `.`-component counted as a negative value (`1.02 < 1.2`), suffixes `_alpha < _beta < _pre < _rc <
//! (none) < _cvs < _svn < _git < _hg < _p`, then `-r` revision. Like apk, [`compare`] orders any pair (an invalid
//! tail stops the comparison where apk stops); [`validate`] is `apk_version_validate`. Numbers of any length are
//! compared exactly (apk-tools' `int` would overflow on `_pre20191002222144`).

use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tok {
    Invalid,
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    RevisionNo,
    End,
}

/// A token value: small values (letters, suffix ranks, negative zero counts) or a run of digits.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    Small(i64),
    /// Digits without leading zeros (empty is zero).
    Digits(String),
}

impl Val {
    fn cmp(&self, other: &Val) -> Ordering {
        let as_digits = |v: &Val| match v {
            Val::Digits(d) => Some(d.clone()),
            Val::Small(n) if *n >= 0 => Some(if *n == 0 {
                String::new()
            } else {
                n.to_string()
            }),
            Val::Small(_) => None,
        };
        match (as_digits(self), as_digits(other)) {
            (Some(a), Some(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(&b)),
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (None, None) => match (self, other) {
                (Val::Small(a), Val::Small(b)) => a.cmp(b),
                _ => Ordering::Equal,
            },
        }
    }
    fn is_negative(&self) -> bool {
        matches!(self, Val::Small(n) if *n < 0)
    }
}

const PRE_SUFFIXES: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST_SUFFIXES: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

/// `next_token`: the type of the token that starts at `s[*pos]`, consuming a separator.
fn next_token(t: &mut Tok, s: &[u8], pos: &mut usize) {
    let rest = &s[*pos..];
    let mut n = Tok::Invalid;
    if rest.is_empty() || rest[0] == 0 {
        n = Tok::End;
    } else if matches!(*t, Tok::Digit | Tok::DigitOrZero) && rest[0].is_ascii_lowercase() {
        n = Tok::Letter;
    } else if *t == Tok::Letter && rest[0].is_ascii_digit() {
        n = Tok::Digit;
    } else if *t == Tok::Suffix && rest[0].is_ascii_digit() {
        n = Tok::SuffixNo;
    } else {
        match rest[0] {
            b'.' => n = Tok::DigitOrZero,
            b'_' => n = Tok::Suffix,
            b'-' if rest.len() > 1 && rest[1] == b'r' => {
                n = Tok::RevisionNo;
                *pos += 1;
            }
            _ => {}
        }
        *pos += 1;
    }
    if n < *t
        && !((n == Tok::DigitOrZero && *t == Tok::Digit)
            || (n == Tok::Suffix && *t == Tok::SuffixNo)
            || (n == Tok::Digit && *t == Tok::Letter))
    {
        n = Tok::Invalid;
    }
    *t = n;
}

/// `get_token`: the value of the token of type `*t` at `s[*pos]`, advancing to the next token.
fn get_token(t: &mut Tok, s: &[u8], pos: &mut usize) -> Val {
    let rest = &s[*pos..];
    if rest.is_empty() {
        *t = Tok::End;
        return Val::Small(0);
    }
    let mut i = 0usize;
    let mut nt = Tok::Invalid;
    let v;
    let digits = |from: usize| {
        let mut j = from;
        while j < rest.len() && rest[j].is_ascii_digit() {
            j += 1;
        }
        j
    };
    match *t {
        Tok::DigitOrZero if rest[0] == b'0' => {
            while i < rest.len() && rest[i] == b'0' {
                i += 1;
            }
            // the digits (or `.`) after the zeros are read as a digit token; a zero component followed by a
            // suffix, letter or revision goes straight on to it (apk-tools 2.14's `6.0_pre1 < 6.0`)
            if rest
                .get(i)
                .is_some_and(|&c| c.is_ascii_digit() || c == b'.')
            {
                nt = Tok::Digit;
            }
            v = Val::Small(-(i as i64));
        }
        Tok::DigitOrZero | Tok::Digit | Tok::SuffixNo | Tok::RevisionNo => {
            i = digits(0);
            let d = std::str::from_utf8(&rest[..i]).unwrap_or_default();
            v = Val::Digits(d.trim_start_matches('0').to_string());
        }
        Tok::Letter => {
            v = Val::Small(i64::from(rest[0]));
            i = 1;
        }
        Tok::Suffix => {
            let pre = PRE_SUFFIXES
                .iter()
                .position(|x| rest.starts_with(x.as_bytes()));
            let post = POST_SUFFIXES
                .iter()
                .position(|x| rest.starts_with(x.as_bytes()));
            match (pre, post) {
                (Some(k), _) => {
                    i = PRE_SUFFIXES[k].len();
                    v = Val::Small(k as i64 - PRE_SUFFIXES.len() as i64);
                }
                (None, Some(k)) => {
                    i = POST_SUFFIXES[k].len();
                    v = Val::Small(k as i64);
                }
                (None, None) => {
                    *t = Tok::Invalid;
                    return Val::Small(-1);
                }
            }
        }
        _ => {
            *t = Tok::Invalid;
            return Val::Small(-1);
        }
    }
    *pos += i;
    if *pos >= s.len() {
        *t = Tok::End;
    } else if nt != Tok::Invalid {
        *t = nt;
    } else {
        next_token(t, s, pos);
    }
    v
}

/// `apk_version_validate`: whether apk accepts `v` as a version.
pub fn validate(v: &str) -> Result<(), String> {
    let s = v.trim().as_bytes();
    let (mut t, mut pos) = (Tok::Digit, 0usize);
    while t != Tok::End && t != Tok::Invalid {
        get_token(&mut t, s, &mut pos);
    }
    if t == Tok::End && !s.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "`{v}` is not an apk version (digits{{.digits}}[letter]{{_suffix[digits]}}[-r<n>]; suffixes alpha, \
             beta, pre, rc, cvs, svn, git, hg, p)"
        ))
    }
}

/// Compares two apk versions as `apk_version_compare` does.
pub fn compare(a: &str, b: &str) -> Result<Ordering, String> {
    let (a, b) = (a.trim().as_bytes(), b.trim().as_bytes());
    if a.is_empty() || b.is_empty() {
        return Err("empty version".into());
    }
    let (mut at, mut bt) = (Tok::Digit, Tok::Digit);
    let (mut ap, mut bp) = (0usize, 0usize);
    let (mut av, mut bv) = (Val::Small(0), Val::Small(0));
    while at == bt && at != Tok::End && at != Tok::Invalid && av.cmp(&bv).is_eq() {
        av = get_token(&mut at, a, &mut ap);
        bv = get_token(&mut bt, b, &mut bp);
    }
    match av.cmp(&bv) {
        Ordering::Equal => {}
        o => return Ok(o),
    }
    if at == bt {
        return Ok(Ordering::Equal);
    }
    // the non-terminating version is greater unless it goes on with a pre-release suffix
    let (mut tt, mut tp) = (at, ap);
    if at == Tok::Suffix && get_token(&mut tt, a, &mut tp).is_negative() {
        return Ok(Ordering::Less);
    }
    let (mut tt, mut tp) = (bt, bp);
    if bt == Tok::Suffix && get_token(&mut tt, b, &mut tp).is_negative() {
        return Ok(Ordering::Greater);
    }
    Ok(bt.cmp(&at))
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
        lt("5.7.1-r0", "5.7.1p1-r0");
        lt("1.8.28p1-r1", "1.8.28p2-r0");
        lt("6.6.2", "6.6.2_p1");
        lt("1.02", "1.2");
        assert!(validate("5.7.1p1-r0").is_ok());
        assert!(validate("6.6.2_p1").is_ok());
        assert!(validate("abc").is_err());
        assert!(validate("1.0_foo").is_err());
        assert!(compare("", "1").is_err());
    }
}
