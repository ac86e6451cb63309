//! XPath expressions into a tree (XPath 1.0 grammar, plus the XPath 2.0 pieces the
//! gateway's schematron files use: `if … then … else`, a function call as the last
//! step of a path).

use super::lexer::{Tok, tokenize};
use crate::Error;

/// An expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// `a or b`
    Or(Box<Expr>, Box<Expr>),
    /// `a and b`
    And(Box<Expr>, Box<Expr>),
    /// Comparison.
    Cmp(&'static str, Box<Expr>, Box<Expr>),
    /// `+ - * div mod`.
    Arith(&'static str, Box<Expr>, Box<Expr>),
    /// Unary minus.
    Neg(Box<Expr>),
    /// `a | b`
    Union(Box<Expr>, Box<Expr>),
    /// A location path, possibly starting from a filter expression.
    Path(Box<Path>),
    /// A primary expression with predicates.
    Filter(Box<Expr>, Vec<Expr>),
    /// String literal.
    Lit(String),
    /// Number literal.
    Num(f64),
    /// `$name`.
    Var(String),
    /// Function call.
    Call(String, Vec<Expr>),
    /// `if (c) then a else b`.
    If(Box<Expr>, Box<Expr>, Box<Expr>),
}

/// Where a path starts.
#[derive(Debug, Clone)]
pub enum Start {
    /// The context node.
    Context,
    /// The document root (`/…`).
    Root,
    /// The result of a filter expression.
    Expr(Expr),
}

/// A location path.
#[derive(Debug, Clone)]
pub struct Path {
    /// Start.
    pub start: Start,
    /// Steps.
    pub steps: Vec<Step>,
}

/// Axes used by the rule files (and a few more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// `child::`
    Child,
    /// `attribute::`, `@`
    Attribute,
    /// `parent::`, `..`
    Parent,
    /// `self::`, `.`
    SelfAxis,
    /// `ancestor::`
    Ancestor,
    /// `ancestor-or-self::`
    AncestorOrSelf,
    /// `descendant::`
    Descendant,
    /// `descendant-or-self::`, `//`
    DescendantOrSelf,
    /// `following-sibling::`
    FollowingSibling,
    /// `preceding-sibling::`
    PrecedingSibling,
}

/// A node test.
#[derive(Debug, Clone)]
pub enum Test {
    /// `*`
    Any,
    /// `prefix:*`
    AnyIn(String),
    /// A name, with its prefix.
    Name(Option<String>, String),
    /// `node()`
    Node,
    /// `text()`
    Text,
}

/// One step.
#[derive(Debug, Clone)]
pub enum Step {
    /// `axis::test[preds]`.
    Axis(Axis, Test, Vec<Expr>),
    /// A function call applied to each node (XPath 2.0).
    Call(String, Vec<Expr>),
}

/// Parses an expression.
pub fn parse(src: &str) -> Result<Expr, Error> {
    let toks = tokenize(src)?;
    let mut p = Parser { toks, pos: 0 };
    let e = p.expr()?;
    if p.pos != p.toks.len() {
        return Err(Error::XPathSyntax(format!(
            "unexpected {:?} in {src:?}",
            p.toks[p.pos]
        )));
    }
    Ok(e)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.pos + n)
    }
    fn eat_punct(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Punct(x)) if *x == p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn eat_op(&mut self, ops: &[&'static str]) -> Option<&'static str> {
        if let Some(Tok::Op(o)) = self.peek()
            && let Some(found) = ops.iter().find(|x| *x == o)
        {
            self.pos += 1;
            return Some(found);
        }
        None
    }
    fn expect(&mut self, p: &str) -> Result<(), Error> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(Error::XPathSyntax(format!(
                "expected {p:?}, found {:?}",
                self.peek()
            )))
        }
    }

    fn expr(&mut self) -> Result<Expr, Error> {
        if matches!(self.peek(), Some(Tok::Name(n)) if n == "if")
            && matches!(self.peek_at(1), Some(Tok::Punct("(")))
        {
            self.pos += 2;
            let cond = self.expr()?;
            self.expect(")")?;
            self.keyword("then")?;
            let a = self.expr()?;
            self.keyword("else")?;
            let b = self.expr()?;
            return Ok(Expr::If(Box::new(cond), Box::new(a), Box::new(b)));
        }
        self.or()
    }
    fn keyword(&mut self, k: &str) -> Result<(), Error> {
        match self.peek() {
            Some(Tok::Name(n)) if n == k => {
                self.pos += 1;
                Ok(())
            }
            other => Err(Error::XPathSyntax(format!("expected {k}, found {other:?}"))),
        }
    }
    fn or(&mut self) -> Result<Expr, Error> {
        let mut l = self.and()?;
        while self.eat_op(&["or"]).is_some() {
            l = Expr::Or(Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Expr, Error> {
        let mut l = self.equality()?;
        while self.eat_op(&["and"]).is_some() {
            l = Expr::And(Box::new(l), Box::new(self.equality()?));
        }
        Ok(l)
    }
    fn equality(&mut self) -> Result<Expr, Error> {
        let mut l = self.relational()?;
        while let Some(op) = self.eat_op(&["=", "!="]) {
            l = Expr::Cmp(op, Box::new(l), Box::new(self.relational()?));
        }
        Ok(l)
    }
    fn relational(&mut self) -> Result<Expr, Error> {
        let mut l = self.additive()?;
        while let Some(op) = self.eat_op(&["<", "<=", ">", ">="]) {
            l = Expr::Cmp(op, Box::new(l), Box::new(self.additive()?));
        }
        Ok(l)
    }
    fn additive(&mut self) -> Result<Expr, Error> {
        let mut l = self.multiplicative()?;
        while let Some(op) = self.eat_op(&["+", "-"]) {
            l = Expr::Arith(op, Box::new(l), Box::new(self.multiplicative()?));
        }
        Ok(l)
    }
    fn multiplicative(&mut self) -> Result<Expr, Error> {
        let mut l = self.unary()?;
        while let Some(op) = self.eat_op(&["*", "div", "mod"]) {
            l = Expr::Arith(op, Box::new(l), Box::new(self.unary()?));
        }
        Ok(l)
    }
    fn unary(&mut self) -> Result<Expr, Error> {
        if self.eat_op(&["-"]).is_some() {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.union()
    }
    fn union(&mut self) -> Result<Expr, Error> {
        let mut l = self.path()?;
        while self.eat_op(&["|"]).is_some() {
            l = Expr::Union(Box::new(l), Box::new(self.path()?));
        }
        Ok(l)
    }

    fn path(&mut self) -> Result<Expr, Error> {
        if self.eat_punct("/") {
            let steps = if self.starts_step() {
                self.steps()?
            } else {
                Vec::new()
            };
            return Ok(Expr::Path(Box::new(Path {
                start: Start::Root,
                steps,
            })));
        }
        if self.eat_punct("//") {
            let mut steps = vec![Step::Axis(Axis::DescendantOrSelf, Test::Node, Vec::new())];
            steps.extend(self.steps()?);
            return Ok(Expr::Path(Box::new(Path {
                start: Start::Root,
                steps,
            })));
        }
        if self.starts_primary() {
            let primary = self.primary()?;
            let mut preds = Vec::new();
            while self.eat_punct("[") {
                preds.push(self.expr()?);
                self.expect("]")?;
            }
            let filtered = if preds.is_empty() {
                primary
            } else {
                Expr::Filter(Box::new(primary), preds)
            };
            let mut steps = Vec::new();
            if self.continue_path(&mut steps)? {
                return Ok(Expr::Path(Box::new(Path {
                    start: Start::Expr(filtered),
                    steps,
                })));
            }
            return Ok(filtered);
        }
        let steps = self.steps()?;
        Ok(Expr::Path(Box::new(Path {
            start: Start::Context,
            steps,
        })))
    }

    /// After `/` or `//`, more steps; returns whether any were read.
    fn continue_path(&mut self, steps: &mut Vec<Step>) -> Result<bool, Error> {
        let mut any = false;
        loop {
            if self.eat_punct("/") {
                steps.push(self.step()?);
            } else if self.eat_punct("//") {
                steps.push(Step::Axis(Axis::DescendantOrSelf, Test::Node, Vec::new()));
                steps.push(self.step()?);
            } else {
                return Ok(any);
            }
            any = true;
        }
    }

    fn steps(&mut self) -> Result<Vec<Step>, Error> {
        let mut steps = vec![self.step()?];
        self.continue_path(&mut steps)?;
        Ok(steps)
    }

    fn starts_step(&self) -> bool {
        matches!(
            self.peek(),
            Some(Tok::Name(_) | Tok::Star | Tok::Punct("@" | "." | ".."))
        )
    }

    fn starts_primary(&self) -> bool {
        match self.peek() {
            Some(Tok::Lit(_) | Tok::Num(_) | Tok::Var(_) | Tok::Punct("(")) => true,
            Some(Tok::Name(n)) => {
                matches!(self.peek_at(1), Some(Tok::Punct("(")))
                    && !matches!(
                        n.as_str(),
                        "node" | "text" | "comment" | "processing-instruction"
                    )
            }
            _ => false,
        }
    }

    fn primary(&mut self) -> Result<Expr, Error> {
        match self.peek().cloned() {
            Some(Tok::Lit(s)) => {
                self.pos += 1;
                Ok(Expr::Lit(s))
            }
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Ok(Expr::Num(n))
            }
            Some(Tok::Var(v)) => {
                self.pos += 1;
                Ok(Expr::Var(v))
            }
            Some(Tok::Punct("(")) => {
                self.pos += 1;
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            Some(Tok::Name(name)) => {
                self.pos += 1;
                Ok(Expr::Call(name, self.args()?))
            }
            other => Err(Error::XPathSyntax(format!("unexpected {other:?}"))),
        }
    }

    fn args(&mut self) -> Result<Vec<Expr>, Error> {
        self.expect("(")?;
        let mut args = Vec::new();
        if !self.eat_punct(")") {
            loop {
                args.push(self.expr()?);
                if self.eat_punct(")") {
                    break;
                }
                self.expect(",")?;
            }
        }
        Ok(args)
    }

    fn step(&mut self) -> Result<Step, Error> {
        if self.eat_punct(".") {
            return Ok(Step::Axis(Axis::SelfAxis, Test::Node, Vec::new()));
        }
        if self.eat_punct("..") {
            return Ok(Step::Axis(Axis::Parent, Test::Node, Vec::new()));
        }
        // XPath 2.0: a function call as a step, e.g. `a/b/count(c)`.
        if self.starts_primary()
            && let Some(Tok::Name(name)) = self.peek().cloned()
        {
            self.pos += 1;
            return Ok(Step::Call(name, self.args()?));
        }
        let mut axis = Axis::Child;
        if self.eat_punct("@") {
            axis = Axis::Attribute;
        } else if let (Some(Tok::Name(n)), Some(Tok::Punct("::"))) =
            (self.peek().cloned(), self.peek_at(1))
        {
            axis = match n.as_str() {
                "child" => Axis::Child,
                "attribute" => Axis::Attribute,
                "parent" => Axis::Parent,
                "self" => Axis::SelfAxis,
                "ancestor" => Axis::Ancestor,
                "ancestor-or-self" => Axis::AncestorOrSelf,
                "descendant" => Axis::Descendant,
                "descendant-or-self" => Axis::DescendantOrSelf,
                "following-sibling" => Axis::FollowingSibling,
                "preceding-sibling" => Axis::PrecedingSibling,
                other => return Err(Error::XPathSyntax(format!("unsupported axis {other}"))),
            };
            self.pos += 2;
        }
        let test = match self.peek().cloned() {
            Some(Tok::Star) => {
                self.pos += 1;
                Test::Any
            }
            Some(Tok::Name(n)) if matches!(self.peek_at(1), Some(Tok::Punct("("))) => {
                self.pos += 1;
                self.args()?;
                match n.as_str() {
                    "node" => Test::Node,
                    "text" => Test::Text,
                    other => {
                        return Err(Error::XPathSyntax(format!(
                            "unsupported node test {other}()"
                        )));
                    }
                }
            }
            Some(Tok::Name(n)) => {
                self.pos += 1;
                match n.split_once(':') {
                    Some((p, "*")) => Test::AnyIn(p.to_string()),
                    Some((p, local)) => Test::Name(Some(p.to_string()), local.to_string()),
                    None => Test::Name(None, n),
                }
            }
            other => {
                return Err(Error::XPathSyntax(format!(
                    "expected a node test, found {other:?}"
                )));
            }
        };
        let mut preds = Vec::new();
        while self.eat_punct("[") {
            preds.push(self.expr()?);
            self.expect("]")?;
        }
        Ok(Step::Axis(axis, test, preds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_files_constructs_parse() {
        for e in [
            "count(hl7:realmCode[@code='IT'])= 1",
            "hl7:act/hl7:entryRelationship/count(hl7:observation/hl7:value/@code)=1",
            "//*[contains(local-name(), 'Person') and not(ancestor::hl7:section)]/hl7:name",
            "if (count(x) > 0) then 'a' else 'b'",
            "matches(@root,'^2\\.16\\.840$') or $v >= 1",
            "string(number($versionNumber)) = 'NaN'",
            "../hl7:x | .//hl7:y",
            "*[@code and not(self::statusCode)]",
            "-count(a) + 2 * 3 div 4 mod 5",
            "/",
        ] {
            parse(e).unwrap_or_else(|err| panic!("{e}: {err}"));
        }
        assert!(parse("count(").is_err());
    }
}
