//! XPath tokens (XPath 1.0 lexical rules, plus `if`/`then`/`else`).

use crate::Error;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A (possibly prefixed) name, `prefix:*` included.
    Name(String),
    /// `*` as a name test.
    Star,
    /// An operator name (`and`, `or`, `div`, `mod`) or symbol.
    Op(&'static str),
    /// `$name`.
    Var(String),
    /// String literal.
    Lit(String),
    /// Number literal.
    Num(f64),
    /// Punctuation: `( ) [ ] , @ / // . .. ::`.
    Punct(&'static str),
}

/// Splits an expression into tokens.
pub fn tokenize(src: &str) -> Result<Vec<Tok>, Error> {
    let b = src.as_bytes();
    let mut out: Vec<Tok> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if (b[i] as char).is_whitespace() {
            i += 1;
        } else {
            i = next_token(src, i, &mut out)?;
        }
    }
    Ok(out)
}

/// Two-character punctuation and operators.
const TWO: [&str; 6] = ["//", "..", "::", "!=", "<=", ">="];
/// One-character punctuation.
const PUNCT: [&str; 7] = ["(", ")", "[", "]", ",", "@", "/"];
/// One-character operators.
const OPS: [&str; 6] = ["|", "+", "-", "=", "<", ">"];

/// Reads the token at `i` into `out`; where the next one starts.
fn next_token(src: &str, i: usize, out: &mut Vec<Tok>) -> Result<usize, Error> {
    let b = src.as_bytes();
    let c = b[i] as char;
    if let Some(p) = src
        .get(i..i + 2)
        .and_then(|two| TWO.iter().find(|p| **p == two))
    {
        out.push(match *p {
            "!=" | "<=" | ">=" => Tok::Op(p),
            _ => Tok::Punct(p),
        });
        return Ok(i + 2);
    }
    if let Some(one) = src.get(i..i + 1) {
        if let Some(p) = PUNCT.iter().find(|p| **p == one) {
            out.push(Tok::Punct(p));
            return Ok(i + 1);
        }
        if let Some(o) = OPS.iter().find(|o| **o == one) {
            out.push(Tok::Op(o));
            return Ok(i + 1);
        }
    }
    match c {
        '.' if !b.get(i + 1).is_some_and(|d| d.is_ascii_digit()) => {
            out.push(Tok::Punct("."));
            Ok(i + 1)
        }
        '*' => {
            out.push(if operator_expected(out) {
                Tok::Op("*")
            } else {
                Tok::Star
            });
            Ok(i + 1)
        }
        '"' | '\'' => {
            let end = src[i + 1..]
                .find(c)
                .ok_or_else(|| Error::XPathSyntax("unterminated string literal".into()))?
                + i
                + 1;
            out.push(Tok::Lit(src[i + 1..end].to_string()));
            Ok(end + 1)
        }
        '$' => {
            let (name, next) = read_name(src, i + 1);
            if name.is_empty() {
                return Err(Error::XPathSyntax("variable without a name".into()));
            }
            out.push(Tok::Var(name));
            Ok(next)
        }
        d if d.is_ascii_digit() || d == '.' => {
            let end = i + src[i..]
                .bytes()
                .take_while(|b| b.is_ascii_digit() || *b == b'.')
                .count();
            let n = src[i..end]
                .parse()
                .map_err(|_| Error::XPathSyntax("bad number".into()))?;
            out.push(Tok::Num(n));
            Ok(end)
        }
        _ if is_name_start(c) => {
            let (name, next) = read_name(src, i);
            out.push(name_or_operator(name, operator_expected(out)));
            Ok(next)
        }
        other => Err(Error::XPathSyntax(format!(
            "unexpected character {other:?}"
        ))),
    }
}

/// `and`, `or`, `div`, `mod` are operators where an operator is expected, names elsewhere.
fn name_or_operator(name: String, operator_expected: bool) -> Tok {
    const WORDS: [&str; 4] = ["and", "or", "div", "mod"];
    match WORDS.iter().find(|w| **w == name) {
        Some(w) if operator_expected => Tok::Op(w),
        _ => Tok::Name(name),
    }
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn read_name(src: &str, start: usize) -> (String, usize) {
    let b = src.as_bytes();
    let mut i = start;
    let part = |i: &mut usize| {
        while *i < b.len()
            && ((b[*i] as char).is_alphanumeric() || matches!(b[*i], b'_' | b'-' | b'.'))
        {
            *i += 1;
        }
    };
    part(&mut i);
    // A prefix: `p:name` or `p:*`, but not the axis separator `::`.
    if i + 1 < b.len() && b[i] == b':' && b[i + 1] != b':' {
        if b[i + 1] == b'*' {
            return (format!("{}:*", &src[start..i]), i + 2);
        }
        if is_name_start(b[i + 1] as char) {
            i += 1;
            part(&mut i);
        }
    }
    (src[start..i].to_string(), i)
}

/// XPath 1.0 §3.7: after these tokens a name or `*` is an operator.
fn operator_expected(prev: &[Tok]) -> bool {
    match prev.last() {
        None => false,
        Some(Tok::Punct(p)) => matches!(*p, ")" | "]" | "." | ".."),
        Some(Tok::Op(_)) => false,
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_operators_and_literals() {
        let t = tokenize("count(hl7:x[@a='1']) >= 1 and $v div 2").unwrap();
        assert_eq!(t[0], Tok::Name("count".into()));
        assert!(t.contains(&Tok::Op(">=")));
        assert!(t.contains(&Tok::Op("and")));
        assert!(t.contains(&Tok::Op("div")));
        assert!(t.contains(&Tok::Lit("1".into())));
        let t = tokenize("ancestor::hl7:section/*").unwrap();
        assert_eq!(t[1], Tok::Punct("::"));
        assert_eq!(t[4], Tok::Star);
        let t = tokenize("@*[. = 2 * 3]").unwrap();
        assert!(t.contains(&Tok::Op("*")));
    }
}
