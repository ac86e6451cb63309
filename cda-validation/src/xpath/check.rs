//! What the engine implements, checked when a rule file is loaded.
//!
//! The evaluator answers "nothing" for a step it cannot take; in a rule `context`
//! that silently disables the rule. So every compiled expression is walked once at
//! load: each function must be one the evaluator knows, with an argument count it
//! accepts; each prefix must be declared by an `sch:ns`; each `$variable` must be
//! bound where it is used; a literal `matches()` pattern must compile. A file that
//! fails is refused, naming the rule.

use std::collections::HashSet;

use super::parser::{Expr, Path, Start, Step, Test};
use crate::Error;

/// The functions `eval::Env::call` implements, with the argument counts it accepts.
const FUNCTIONS: &[(&str, usize, usize)] = &[
    ("count", 1, 1),
    ("not", 1, 1),
    ("boolean", 1, 1),
    ("true", 0, 0),
    ("false", 0, 0),
    ("string", 0, 1),
    ("number", 0, 1),
    ("string-length", 0, 1),
    ("normalize-space", 0, 1),
    ("contains", 2, 2),
    ("starts-with", 2, 2),
    ("substring-after", 2, 2),
    ("substring-before", 2, 2),
    ("concat", 2, usize::MAX),
    ("local-name", 0, 1),
    ("name", 0, 1),
    ("position", 0, 0),
    ("last", 0, 0),
    ("sum", 1, 1),
    ("matches", 2, 2),
];

/// What an expression may refer to.
pub struct Scope<'s> {
    /// Prefixes declared by the file's `sch:ns`.
    pub prefixes: &'s HashSet<String>,
    /// Variables bound at this point (`sch:let` before it).
    pub variables: &'s HashSet<String>,
}

/// Refuses an expression that uses something the engine does not implement.
pub fn check(e: &Expr, scope: &Scope<'_>) -> Result<(), Error> {
    match e {
        Expr::Or(a, b)
        | Expr::And(a, b)
        | Expr::Cmp(_, a, b)
        | Expr::Arith(_, a, b)
        | Expr::Union(a, b) => {
            check(a, scope)?;
            check(b, scope)
        }
        Expr::Neg(a) => check(a, scope),
        Expr::If(c, a, b) => {
            check(c, scope)?;
            check(a, scope)?;
            check(b, scope)
        }
        Expr::Path(p) => path(p, scope),
        Expr::Filter(primary, preds) => {
            check(primary, scope)?;
            preds.iter().try_for_each(|p| check(p, scope))
        }
        Expr::Lit(_) | Expr::Num(_) => Ok(()),
        Expr::Var(v) if scope.variables.contains(v) => Ok(()),
        Expr::Var(v) => Err(Error::Unsupported(format!("${v} is not bound here"))),
        Expr::Call(name, args) => call(name, args, scope),
    }
}

fn call(name: &str, args: &[Expr], scope: &Scope<'_>) -> Result<(), Error> {
    let Some(&(_, min, max)) = FUNCTIONS.iter().find(|(n, _, _)| *n == name) else {
        return Err(Error::Unsupported(format!(
            "function {name}() is not implemented"
        )));
    };
    if args.len() < min || args.len() > max {
        return Err(Error::Unsupported(format!(
            "{name}() with {} argument(s) is not implemented",
            args.len()
        )));
    }
    if let ("matches", Some(Expr::Lit(pattern))) = (name, args.get(1)) {
        regex::Regex::new(pattern)
            .map_err(|e| Error::Unsupported(format!("matches() pattern {pattern:?}: {e}")))?;
    }
    args.iter().try_for_each(|a| check(a, scope))
}

fn path(p: &Path, scope: &Scope<'_>) -> Result<(), Error> {
    if let Start::Expr(e) = &p.start {
        check(e, scope)?;
    }
    for step in &p.steps {
        match step {
            Step::Axis(_, test, preds) => {
                prefix(test, scope)?;
                preds.iter().try_for_each(|p| check(p, scope))?;
            }
            Step::Call(name, args) => call(name, args, scope)?,
        }
    }
    Ok(())
}

fn prefix(test: &Test, scope: &Scope<'_>) -> Result<(), Error> {
    match test {
        Test::AnyIn(p) | Test::Name(Some(p), _) if !scope.prefixes.contains(p) => Err(
            Error::Unsupported(format!("prefix {p}: is not declared by an sch:ns")),
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xpath::parse;

    fn verdict(src: &str) -> Result<(), Error> {
        let prefixes: HashSet<String> = ["hl7".to_string()].into();
        let variables: HashSet<String> = ["code".to_string()].into();
        check(
            &parse(src).unwrap(),
            &Scope {
                prefixes: &prefixes,
                variables: &variables,
            },
        )
    }

    #[test]
    fn what_the_engine_implements_passes() {
        for ok in [
            "//hl7:ClinicalDocument[count(hl7:author) = 1]",
            "matches($code, '^[0-9]+$') and string-length(normalize-space()) > 0",
            "if (hl7:code/@code = '1') then true() else concat('a', 'b', $code)",
        ] {
            assert!(verdict(ok).is_ok(), "{ok}: {:?}", verdict(ok));
        }
    }

    #[test]
    fn what_it_does_not_is_named() {
        for (bad, why) in [
            (
                "//hl7:section[exists(hl7:code)]",
                "exists() is not implemented",
            ),
            (
                "//hl7:x[substring('a', 1, 2)]",
                "substring() is not implemented",
            ),
            ("count(hl7:a, hl7:b)", "count() with 2 argument(s)"),
            ("//cda:section", "prefix cda:"),
            ("//hl7:a[@x = $missing]", "$missing is not bound"),
            ("matches(., '(')", "matches() pattern"),
            ("//hl7:a/upper-case(.)", "upper-case() is not implemented"),
        ] {
            let e = verdict(bad).unwrap_err();
            assert!(matches!(e, Error::Unsupported(_)), "{bad}: {e:?}");
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
    }
}
