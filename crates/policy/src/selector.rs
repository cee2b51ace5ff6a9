//! Calico's label selector language: `key == "v"`, `key != "v"`, `key in {"a","b"}`, `key not in {…}`,
//! `has(key)`, `!has(key)`, `all()`, `global()`, `key contains "s"`, `key starts with "s"`,
//! `key ends with "s"`, `!`, `&&`, `||` and parentheses. An empty selector selects everything.
//!
//! Hand-written: no maintained Rust crate parses Calico's selector grammar (it differs from Kubernetes'
//! set-based selectors), and it is small.
//!
//! Selectors come from cluster objects anyone allowed to write a policy can create, and the parser, the
//! matcher and the drop of a parsed selector recurse over its nesting: a selector is refused when it is
//! longer than [`MAX_LEN`] bytes, nested deeper than [`MAX_DEPTH`] (`(` and `!`), or has more than
//! [`MAX_TERMS`] conditions (a chain of `&&`/`||` nests one level per condition).

use std::collections::BTreeMap;

/// The longest selector accepted, in bytes.
pub const MAX_LEN: usize = 16 * 1024;
/// The deepest nesting of parentheses and `!` accepted.
pub const MAX_DEPTH: usize = 64;
/// The most conditions (`key == "v"`, `has(k)`, `all()`, …) a selector may have.
pub const MAX_TERMS: usize = 512;

/// A parsed selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// `all()` (and the empty selector).
    All,
    /// `has(key)`.
    Has(String),
    /// `key == "v"`.
    Eq(String, String),
    /// `key != "v"` (also true when the label is absent).
    Ne(String, String),
    /// `key in {…}`.
    In(String, Vec<String>),
    /// `key not in {…}` (also true when the label is absent).
    NotIn(String, Vec<String>),
    /// `key contains "s"`.
    Contains(String, String),
    /// `key starts with "s"`.
    StartsWith(String, String),
    /// `key ends with "s"`.
    EndsWith(String, String),
    /// `!e`.
    Not(Box<Selector>),
    /// `a && b`.
    And(Box<Selector>, Box<Selector>),
    /// `a || b`.
    Or(Box<Selector>, Box<Selector>),
}

impl Selector {
    /// Parses a selector; the error names the position and what was expected.
    /// Refuses selectors over [`MAX_LEN`], [`MAX_DEPTH`] or [`MAX_TERMS`].
    pub fn parse(src: &str) -> Result<Selector, String> {
        if src.len() > MAX_LEN {
            return Err(format!(
                "the selector is {} bytes long, over the limit of {MAX_LEN} bytes; shorten it (e.g. one \
                 `key in {{…}}` instead of many `||`) or split the policy",
                src.len()
            ));
        }
        let toks = tokenize(src)?;
        if toks.is_empty() {
            return Ok(Selector::All);
        }
        let mut p = Parser {
            toks,
            pos: 0,
            depth: 0,
            terms: 0,
        };
        let e = p.or()?;
        if p.pos < p.toks.len() {
            return Err(format!(
                "unexpected {} at token {} of selector `{}`",
                p.toks[p.pos].describe(),
                p.pos + 1,
                excerpt(src)
            ));
        }
        Ok(e)
    }

    /// True when the labels satisfy the selector.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let get = |k: &String| labels.get(k);
        match self {
            Selector::All => true,
            Selector::Has(k) => labels.contains_key(k),
            Selector::Eq(k, v) => get(k) == Some(v),
            Selector::Ne(k, v) => get(k) != Some(v),
            Selector::In(k, vs) => get(k).is_some_and(|x| vs.contains(x)),
            Selector::NotIn(k, vs) => !get(k).is_some_and(|x| vs.contains(x)),
            Selector::Contains(k, s) => get(k).is_some_and(|x| x.contains(s.as_str())),
            Selector::StartsWith(k, s) => get(k).is_some_and(|x| x.starts_with(s.as_str())),
            Selector::EndsWith(k, s) => get(k).is_some_and(|x| x.ends_with(s.as_str())),
            Selector::Not(e) => !e.matches(labels),
            Selector::And(a, b) => a.matches(labels) && b.matches(labels),
            Selector::Or(a, b) => a.matches(labels) || b.matches(labels),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    EqEq,
    NotEq,
    Bang,
    And,
    Or,
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{}`", excerpt(s)),
            Tok::Str(s) => format!("string \"{}\"", excerpt(s)),
            Tok::EqEq => "`==`".into(),
            Tok::NotEq => "`!=`".into(),
            Tok::Bang => "`!`".into(),
            Tok::And => "`&&`".into(),
            Tok::Or => "`||`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::LBrace => "`{`".into(),
            Tok::RBrace => "`}`".into(),
            Tok::Comma => "`,`".into(),
        }
    }
}

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            c if c.is_whitespace() => i += 1,
            '=' if next == Some('=') => {
                out.push(Tok::EqEq);
                i += 2;
            }
            '!' if next == Some('=') => {
                out.push(Tok::NotEq);
                i += 2;
            }
            '!' => {
                out.push(Tok::Bang);
                i += 1;
            }
            '&' if next == Some('&') => {
                out.push(Tok::And);
                i += 2;
            }
            '|' if next == Some('|') => {
                out.push(Tok::Or);
                i += 2;
            }
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            '{' => {
                out.push(Tok::LBrace);
                i += 1;
            }
            '}' => {
                out.push(Tok::RBrace);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '"' | '\'' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&x| x == c)
                    .ok_or_else(|| format!("unterminated string starting at column {}", i + 1))?;
                out.push(Tok::Str(chars[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            c if c.is_ascii_alphanumeric() || "_./-".contains(c) => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || "_./-".contains(chars[i]))
                {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            other => {
                return Err(format!(
                    "unexpected character `{other}` at column {}",
                    i + 1
                ));
            }
        }
    }
    Ok(out)
}

/// The start of a selector (or of a token), for messages.
fn excerpt(src: &str) -> String {
    const SHOWN: usize = 60;
    match src.char_indices().nth(SHOWN) {
        Some((i, _)) => format!("{}…", &src[..i]),
        None => src.to_string(),
    }
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    /// Current nesting of `(` and `!`.
    depth: usize,
    /// Conditions parsed so far.
    terms: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect(&mut self, want: Tok) -> Result<(), String> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            Some(t) => Err(format!(
                "expected {} but found {}",
                want.describe(),
                t.describe()
            )),
            None => Err(format!(
                "expected {} but the selector ended",
                want.describe()
            )),
        }
    }

    fn or(&mut self) -> Result<Selector, String> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            left = Selector::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Selector, String> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            left = Selector::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Selector, String> {
        match self.peek() {
            Some(Tok::Bang) => {
                self.enter()?;
                let e = Selector::Not(Box::new(self.unary()?));
                self.depth -= 1;
                Ok(e)
            }
            Some(Tok::LParen) => {
                self.enter()?;
                let e = self.or()?;
                self.expect(Tok::RParen)?;
                self.depth -= 1;
                Ok(e)
            }
            _ => self.term(),
        }
    }

    /// Steps over a `(` or `!`, one level deeper; refuses to go past [`MAX_DEPTH`].
    fn enter(&mut self) -> Result<(), String> {
        if self.depth == MAX_DEPTH {
            return Err(format!(
                "the selector nests `(` and `!` more than {MAX_DEPTH} levels deep (at token {}); \
                 remove redundant parentheses and double negations",
                self.pos + 1
            ));
        }
        self.depth += 1;
        self.pos += 1;
        Ok(())
    }

    fn string(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(s),
            Some(t) => Err(format!(
                "expected a quoted string but found {}",
                t.describe()
            )),
            None => Err("expected a quoted string but the selector ended".into()),
        }
    }

    fn set(&mut self) -> Result<Vec<String>, String> {
        self.expect(Tok::LBrace)?;
        let mut out = Vec::new();
        if self.peek() == Some(&Tok::RBrace) {
            self.pos += 1;
            return Ok(out);
        }
        loop {
            out.push(self.string()?);
            match self.next() {
                Some(Tok::Comma) => continue,
                Some(Tok::RBrace) => return Ok(out),
                Some(t) => return Err(format!("expected `,` or `}}` but found {}", t.describe())),
                None => return Err("unterminated set: expected `}`".into()),
            }
        }
    }

    fn term(&mut self) -> Result<Selector, String> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(format!(
                "the selector has more than {MAX_TERMS} conditions (at token {}); use `key in {{…}}` \
                 for alternatives of one label, or split the policy",
                self.pos + 1
            ));
        }
        let ident = match self.next() {
            Some(Tok::Ident(s)) => s,
            Some(t) => {
                return Err(format!(
                    "expected a label key, `has(`, `all()` or `(` but found {}",
                    t.describe()
                ));
            }
            None => return Err("expected an expression but the selector ended".into()),
        };
        if (ident == "has" || ident == "all" || ident == "global")
            && self.peek() == Some(&Tok::LParen)
        {
            self.pos += 1;
            if ident == "has" {
                let key = match self.next() {
                    Some(Tok::Ident(k)) => k,
                    Some(t) => {
                        return Err(format!(
                            "expected a label key in has() but found {}",
                            t.describe()
                        ));
                    }
                    None => return Err("expected a label key in has()".into()),
                };
                self.expect(Tok::RParen)?;
                return Ok(Selector::Has(key));
            }
            self.expect(Tok::RParen)?;
            return Ok(Selector::All);
        }
        match self.next() {
            Some(Tok::EqEq) => Ok(Selector::Eq(ident, self.string()?)),
            Some(Tok::NotEq) => Ok(Selector::Ne(ident, self.string()?)),
            Some(Tok::Ident(op)) if op == "in" => Ok(Selector::In(ident, self.set()?)),
            Some(Tok::Ident(op)) if op == "contains" => {
                Ok(Selector::Contains(ident, self.string()?))
            }
            Some(Tok::Ident(op)) if op == "not" => match self.next() {
                Some(Tok::Ident(x)) if x == "in" => Ok(Selector::NotIn(ident, self.set()?)),
                _ => Err(format!("expected `in` after `{ident} not`")),
            },
            Some(Tok::Ident(op)) if op == "starts" || op == "ends" => {
                match self.next() {
                    Some(Tok::Ident(x)) if x == "with" => {}
                    _ => return Err(format!("expected `with` after `{op}`")),
                }
                let s = self.string()?;
                Ok(if op == "starts" {
                    Selector::StartsWith(ident, s)
                } else {
                    Selector::EndsWith(ident, s)
                })
            }
            Some(t) => Err(format!(
                "expected an operator (==, !=, in, not in, contains, starts with, ends with) after `{ident}` but found {}",
                t.describe()
            )),
            None => Err(format!(
                "expected an operator after `{ident}` but the selector ended"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn operators() {
        let l = labels(&[("app", "web"), ("tier", "frontend"), ("env", "prod")]);
        let t = |s: &str| Selector::parse(s).unwrap().matches(&l);
        assert!(t(""));
        assert!(t("all()"));
        assert!(t("app == 'web'"));
        assert!(!t("app == \"db\""));
        assert!(t("app != 'db'"));
        assert!(t("missing != 'x'"));
        assert!(t("env in {'prod', 'staging'}"));
        assert!(!t("env not in {'prod'}"));
        assert!(t("missing not in {'prod'}"));
        assert!(t("has(tier)"));
        assert!(!t("has(missing)"));
        assert!(t("!has(missing)"));
        assert!(t("app == 'web' && (env == 'dev' || tier == 'frontend')"));
        assert!(!t("app == 'web' && env == 'dev' || tier == 'backend'"));
        assert!(t("!(app == 'db')"));
        assert!(t(
            "tier starts with 'front' && tier ends with 'end' && app contains 'e'"
        ));
        assert!(t("projectcalico.org/name != 'kube-system'"));
    }

    #[test]
    fn precedence_and_binds_tighter_than_or() {
        let l = labels(&[("a", "1")]);
        let s = Selector::parse("a == '1' || b == '2' && c == '3'").unwrap();
        assert!(s.matches(&l));
        let s = Selector::parse("(a == '1' || b == '2') && c == '3'").unwrap();
        assert!(!s.matches(&l));
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(
            Selector::parse("app ==")
                .unwrap_err()
                .contains("quoted string")
        );
        assert!(
            Selector::parse("app = 'x'")
                .unwrap_err()
                .contains("unexpected character")
        );
        assert!(Selector::parse("(app == 'x'").unwrap_err().contains("`)`"));
        assert!(
            Selector::parse("app in {'a' 'b'}")
                .unwrap_err()
                .contains("`,`")
        );
        assert!(
            Selector::parse("app == 'x")
                .unwrap_err()
                .contains("unterminated")
        );
        assert!(
            Selector::parse("app == 'x' app")
                .unwrap_err()
                .contains("unexpected")
        );
    }

    /// Issue #12 hole 8: before the limits, these overflowed the stack (parser recursion per `(`/`!`, and the
    /// matcher and drop recursion per `&&`), aborting the process.
    #[test]
    fn deep_or_long_selectors_are_refused_not_overflowed() {
        let parens = format!("{}has(a){}", "(".repeat(100_000), ")".repeat(100_000));
        let bangs = format!("{}has(a)", "!".repeat(100_000));
        for src in [&parens, &bangs] {
            let e = Selector::parse(src).unwrap_err();
            assert!(e.contains("bytes long") && e.contains("16384"), "{e}");
        }
        // Within the length limit, too deep.
        let parens = format!("{}has(a){}", "(".repeat(1_000), ")".repeat(1_000));
        let e = Selector::parse(&parens).unwrap_err();
        assert!(
            e.contains("more than 64 levels") && e.contains("token 65"),
            "{e}"
        );
        let e = Selector::parse(&format!("{}has(a)", "!".repeat(1_000))).unwrap_err();
        assert!(e.contains("more than 64 levels"), "{e}");
        // Within the length limit, too many conditions (each `&&` nests the tree one level).
        let chain = vec!["has(a)"; 1_000].join("&&");
        assert!(chain.len() < MAX_LEN);
        let e = Selector::parse(&chain).unwrap_err();
        assert!(e.contains("more than 512 conditions"), "{e}");
        // The limits themselves are accepted and evaluate.
        let at_depth = format!("{}has(a){}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(
            Selector::parse(&at_depth)
                .unwrap()
                .matches(&labels(&[("a", "1")]))
        );
        let at_terms = vec!["has(a)"; MAX_TERMS].join(" && ");
        assert!(
            Selector::parse(&at_terms)
                .unwrap()
                .matches(&labels(&[("a", "1")]))
        );
        let negations = format!("{}has(a)", "!".repeat(MAX_DEPTH));
        assert!(
            Selector::parse(&negations)
                .unwrap()
                .matches(&labels(&[("a", "1")]))
        );
    }

    #[test]
    fn messages_quote_only_the_start_of_a_long_selector() {
        let src = format!("has(a) {}", "b".repeat(10_000));
        let e = Selector::parse(&src).unwrap_err();
        assert!(e.len() < 300, "{e}");
        assert!(e.contains("has(a) bbb") && e.contains('…'), "{e}");
    }
}
