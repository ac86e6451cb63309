//! Evaluating expressions over a roxmltree document.
//!
//! XPath 1.0 semantics, with the adaptations the gateway's files need to give the
//! verdicts of the XPath 2.0 processor the gateway runs: `matches()` (search
//! semantics), relational comparison of two non-numeric operands as strings (so
//! timestamps with a timezone compare as XPath 2.0 compares untyped values), and
//! a function call as a path step yielding one value per node.

use std::cell::RefCell;
use std::collections::HashMap;

use roxmltree::{Document, Node, NodeType};

use super::parser::{Axis, Expr, Path, Start, Step, Test};
use crate::Error;

/// A node: a tree node or an attribute of an element.
#[derive(Clone, Copy, Debug)]
pub enum XNode<'a, 'i> {
    /// Element, text, root…
    Node(Node<'a, 'i>),
    /// The attribute at this index of the element.
    Attr(Node<'a, 'i>, usize),
}

/// A value.
#[derive(Clone, Debug)]
pub enum Value<'a, 'i> {
    /// Node-set in document order.
    Nodes(Vec<XNode<'a, 'i>>),
    /// String.
    Str(String),
    /// Number.
    Num(f64),
    /// Boolean.
    Bool(bool),
    /// Sequence of values from a function-call step.
    Seq(Vec<Value<'a, 'i>>),
}

/// Evaluation environment: namespaces and variables.
pub struct Env<'a, 'i, 'e> {
    /// Prefix → namespace URI.
    pub ns: &'e HashMap<String, String>,
    /// Variables in scope.
    pub vars: &'e HashMap<String, Value<'a, 'i>>,
    /// The document.
    pub doc: &'a Document<'i>,
}

thread_local! {
    static REGEXES: RefCell<HashMap<String, Result<regex::Regex, regex::Error>>> = RefCell::new(HashMap::new());
}

// === impl XNode ===

impl<'a, 'i> XNode<'a, 'i> {
    /// Document-order key.
    pub fn key(&self) -> (usize, usize) {
        match self {
            XNode::Node(n) => (n.id().get_usize(), 0),
            XNode::Attr(n, i) => (n.id().get_usize(), i + 1),
        }
    }

    /// The element, when this is one.
    pub fn element(&self) -> Option<Node<'a, 'i>> {
        match self {
            XNode::Node(n) if n.is_element() => Some(*n),
            _ => None,
        }
    }

    /// XPath string value.
    pub fn string_value(&self) -> String {
        match self {
            XNode::Attr(n, i) => n
                .attributes()
                .nth(*i)
                .map(|a| a.value().to_string())
                .unwrap_or_default(),
            XNode::Node(n) if n.is_text() => n.text().unwrap_or_default().to_string(),
            XNode::Node(n) => n
                .descendants()
                .filter(|d| d.is_text())
                .filter_map(|d| d.text())
                .collect(),
        }
    }

    /// Local name (empty for text and root).
    pub fn local_name(&self) -> String {
        match self {
            XNode::Attr(n, i) => n
                .attributes()
                .nth(*i)
                .map(|a| a.name().to_string())
                .unwrap_or_default(),
            XNode::Node(n) if n.is_element() => n.tag_name().name().to_string(),
            _ => String::new(),
        }
    }

    /// Qualified name as written in the document.
    pub fn qname(&self) -> String {
        match self {
            XNode::Node(n) if n.is_element() => {
                let local = n.tag_name().name();
                match n.tag_name().namespace().and_then(|ns| n.lookup_prefix(ns)) {
                    Some(p) if !p.is_empty() => format!("{p}:{local}"),
                    _ => local.to_string(),
                }
            }
            other => other.local_name(),
        }
    }
}

// === impl Value ===

impl<'a, 'i> Value<'a, 'i> {
    /// Effective boolean value.
    pub fn boolean(&self) -> bool {
        match self {
            Value::Nodes(n) => !n.is_empty(),
            Value::Str(s) => !s.is_empty(),
            Value::Num(n) => *n != 0.0 && !n.is_nan(),
            Value::Bool(b) => *b,
            Value::Seq(s) => !s.is_empty(),
        }
    }

    /// String conversion.
    pub fn string(&self) -> String {
        match self {
            Value::Nodes(n) => n.first().map(XNode::string_value).unwrap_or_default(),
            Value::Str(s) => s.clone(),
            Value::Num(n) => number_to_string(*n),
            Value::Bool(b) => b.to_string(),
            Value::Seq(s) => s.first().map(Value::string).unwrap_or_default(),
        }
    }

    /// Number conversion.
    pub fn number(&self) -> f64 {
        match self {
            Value::Num(n) => *n,
            Value::Bool(b) => f64::from(u8::from(*b)),
            other => string_to_number(&other.string()),
        }
    }

    /// The items compared existentially (node string values, or the value itself).
    fn items(&self) -> Vec<Value<'a, 'i>> {
        match self {
            Value::Nodes(n) => n.iter().map(|x| Value::Str(x.string_value())).collect(),
            Value::Seq(s) => s.iter().flat_map(Value::items).collect(),
            other => vec![other.clone()],
        }
    }
}

/// XPath number → string.
pub fn number_to_string(n: f64) -> String {
    if n.is_nan() {
        "NaN".into()
    } else if n.is_infinite() {
        if n > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else if n == n.trunc() && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// XPath string → number (`NaN` unless the whole trimmed string is a number).
pub fn string_to_number(s: &str) -> f64 {
    let t = s.trim();
    let valid = !t.is_empty()
        && t.trim_start_matches('-')
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.')
        && t.matches('.').count() <= 1
        && t.trim_start_matches('-') != "."
        && !t.trim_start_matches('-').is_empty()
        && t.matches('-').count() <= 1
        && (t.find('-').is_none_or(|p| p == 0));
    if valid {
        t.parse().unwrap_or(f64::NAN)
    } else {
        f64::NAN
    }
}

/// Whether a predicate's truth cannot depend on the node's position (no number
/// literal as the whole predicate, no `position()` or `last()` inside).
fn positionless(e: &Expr) -> bool {
    fn uses_position(e: &Expr) -> bool {
        match e {
            Expr::Call(n, args) => n == "position" || n == "last" || args.iter().any(uses_position),
            Expr::Or(a, b)
            | Expr::And(a, b)
            | Expr::Cmp(_, a, b)
            | Expr::Arith(_, a, b)
            | Expr::Union(a, b) => uses_position(a) || uses_position(b),
            Expr::Neg(a) => uses_position(a),
            Expr::If(a, b, c) => uses_position(a) || uses_position(b) || uses_position(c),
            _ => false,
        }
    }
    !matches!(e, Expr::Num(_) | Expr::Arith(..) | Expr::Neg(_)) && !uses_position(e)
}

fn sort_dedup(nodes: &mut Vec<XNode<'_, '_>>) {
    nodes.sort_by_key(XNode::key);
    nodes.dedup_by_key(|n| n.key());
}

fn compare(op: &str, l: &Value<'_, '_>, r: &Value<'_, '_>) -> bool {
    let is_set = |v: &Value<'_, '_>| matches!(v, Value::Nodes(_) | Value::Seq(_));
    if let (Value::Bool(_), _) | (_, Value::Bool(_)) = (l, r) {
        let (a, b) = (l.boolean(), r.boolean());
        return match op {
            "=" => a == b,
            "!=" => a != b,
            _ => cmp_num(op, f64::from(u8::from(a)), f64::from(u8::from(b))),
        };
    }
    // A node-set against a string or number: compare each node's value directly.
    if let (Value::Nodes(nodes), scalar @ (Value::Str(_) | Value::Num(_)))
    | (scalar @ (Value::Str(_) | Value::Num(_)), Value::Nodes(nodes)) = (l, r)
    {
        let node_left = matches!(l, Value::Nodes(_));
        return nodes.iter().any(|n| {
            let v = Value::Str(n.string_value());
            if node_left {
                compare(op, &v, scalar)
            } else {
                compare(op, scalar, &v)
            }
        });
    }
    if is_set(l) || is_set(r) {
        let (li, ri) = (l.items(), r.items());
        return li.iter().any(|a| ri.iter().any(|b| compare(op, a, b)));
    }
    let numeric = matches!(l, Value::Num(_)) || matches!(r, Value::Num(_));
    match op {
        "=" | "!=" if !numeric => (l.string() == r.string()) == (op == "="),
        "=" | "!=" => (l.number() == r.number()) == (op == "="),
        // XPath 2.0: two untyped values compare as strings.
        _ if !numeric => {
            let (a, b) = (l.string(), r.string());
            match op {
                "<" => a < b,
                "<=" => a <= b,
                ">" => a > b,
                _ => a >= b,
            }
        }
        _ => cmp_num(op, l.number(), r.number()),
    }
}

fn cmp_num(op: &str, a: f64, b: f64) -> bool {
    match op {
        "<" => a < b,
        "<=" => a <= b,
        ">" => a > b,
        _ => a >= b,
    }
}

// === impl Env ===

impl<'a, 'i, 'e> Env<'a, 'i, 'e> {
    /// Evaluates `e` with `node` as context at `pos` of `size`.
    pub fn eval(
        &self,
        e: &Expr,
        node: XNode<'a, 'i>,
        pos: usize,
        size: usize,
    ) -> Result<Value<'a, 'i>, Error> {
        Ok(match e {
            Expr::Or(a, b) => Value::Bool(
                self.eval(a, node, pos, size)?.boolean()
                    || self.eval(b, node, pos, size)?.boolean(),
            ),
            Expr::And(a, b) => Value::Bool(
                self.eval(a, node, pos, size)?.boolean()
                    && self.eval(b, node, pos, size)?.boolean(),
            ),
            Expr::Cmp(op, a, b) => Value::Bool(compare(
                op,
                &self.eval(a, node, pos, size)?,
                &self.eval(b, node, pos, size)?,
            )),
            Expr::Arith(op, a, b) => {
                let (x, y) = (
                    self.eval(a, node, pos, size)?.number(),
                    self.eval(b, node, pos, size)?.number(),
                );
                Value::Num(match *op {
                    "+" => x + y,
                    "-" => x - y,
                    "*" => x * y,
                    "div" => x / y,
                    _ => x % y,
                })
            }
            Expr::Neg(a) => Value::Num(-self.eval(a, node, pos, size)?.number()),
            Expr::Union(a, b) => {
                let (Value::Nodes(mut x), Value::Nodes(y)) = (
                    self.eval(a, node, pos, size)?,
                    self.eval(b, node, pos, size)?,
                ) else {
                    return Err(Error::Evaluation("union of non-node-sets".into()));
                };
                x.extend(y);
                sort_dedup(&mut x);
                Value::Nodes(x)
            }
            Expr::Path(p) => self.path(p, node, pos, size)?,
            Expr::Filter(primary, preds) => {
                let Value::Nodes(nodes) = self.eval(primary, node, pos, size)? else {
                    return Err(Error::Evaluation("predicate on a non-node-set".into()));
                };
                Value::Nodes(self.filter(nodes, preds)?)
            }
            Expr::Lit(s) => Value::Str(s.clone()),
            Expr::Num(n) => Value::Num(*n),
            Expr::Var(v) => self
                .vars
                .get(v)
                .cloned()
                .ok_or_else(|| Error::Evaluation(format!("unknown variable ${v}")))?,
            Expr::Call(name, args) => self.call(name, args, node, pos, size)?,
            Expr::If(c, a, b) => {
                if self.eval(c, node, pos, size)?.boolean() {
                    self.eval(a, node, pos, size)?
                } else {
                    self.eval(b, node, pos, size)?
                }
            }
        })
    }

    fn path(
        &self,
        p: &Path,
        node: XNode<'a, 'i>,
        pos: usize,
        size: usize,
    ) -> Result<Value<'a, 'i>, Error> {
        let mut current = match &p.start {
            Start::Context => vec![node],
            Start::Root => vec![XNode::Node(self.doc.root())],
            Start::Expr(e) => match self.eval(e, node, pos, size)? {
                Value::Nodes(n) => n,
                _ => return Err(Error::Evaluation("a path step after a non-node-set".into())),
            },
        };
        let mut i = 0;
        while i < p.steps.len() {
            match &p.steps[i] {
                // `//name[…]` without positional predicates: one pass over the descendants
                // instead of collecting every node and then each one's children.
                Step::Axis(Axis::DescendantOrSelf, Test::Node, pre)
                    if pre.is_empty()
                        && matches!(p.steps.get(i + 1), Some(Step::Axis(Axis::Child, _, preds)) if preds.iter().all(positionless)) =>
                {
                    let Some(Step::Axis(_, test, preds)) = p.steps.get(i + 1) else {
                        unreachable!("matched above")
                    };
                    let mut next = Vec::new();
                    for n in &current {
                        let candidates: Vec<XNode<'a, 'i>> = match n {
                            XNode::Node(owner) => owner
                                .descendants()
                                .skip(1)
                                .map(XNode::Node)
                                .filter(|c| self.test(c, Axis::Child, test))
                                .collect(),
                            XNode::Attr(..) => Vec::new(),
                        };
                        next.extend(self.filter(candidates, preds)?);
                    }
                    if current.len() > 1 {
                        sort_dedup(&mut next);
                    }
                    current = next;
                    i += 2;
                    continue;
                }
                Step::Axis(axis, test, preds) => {
                    let mut next = Vec::new();
                    for n in &current {
                        let candidates = self.candidates(*n, *axis, test);
                        next.extend(self.filter(candidates, preds)?);
                    }
                    // One context node on a forward axis: already in document order, unique.
                    let forward = !matches!(
                        axis,
                        Axis::Ancestor | Axis::AncestorOrSelf | Axis::PrecedingSibling
                    );
                    if current.len() > 1 || !forward {
                        sort_dedup(&mut next);
                    }
                    current = next;
                }
                Step::Call(name, args) => {
                    if i + 1 != p.steps.len() {
                        return Err(Error::Evaluation(
                            "a function step must be the last step".into(),
                        ));
                    }
                    let total = current.len();
                    let values: Result<Vec<_>, _> = current
                        .iter()
                        .enumerate()
                        .map(|(k, n)| self.call(name, args, *n, k + 1, total))
                        .collect();
                    return Ok(Value::Seq(values?));
                }
            }
            i += 1;
        }
        Ok(Value::Nodes(current))
    }

    /// The nodes of `axis` from `n` that pass `test`, with direct paths for the
    /// child and attribute axes (most steps of the rule files).
    fn candidates(&self, n: XNode<'a, 'i>, axis: Axis, test: &Test) -> Vec<XNode<'a, 'i>> {
        match (n, axis, test) {
            (XNode::Node(el), Axis::Child, Test::Name(prefix, name)) => {
                let ns = prefix
                    .as_ref()
                    .and_then(|p| self.ns.get(p))
                    .map(String::as_str);
                if prefix.is_some() && ns.is_none() {
                    return Vec::new();
                }
                el.children()
                    .filter(|c| {
                        c.is_element()
                            && c.tag_name().name() == name
                            && c.tag_name().namespace() == ns
                    })
                    .map(XNode::Node)
                    .collect()
            }
            (XNode::Node(el), Axis::Attribute, Test::Name(None, name)) => el
                .attributes()
                .position(|a| a.name() == name && a.namespace().is_none())
                .map(|i| vec![XNode::Attr(el, i)])
                .unwrap_or_default(),
            _ => self
                .axis(n, axis)
                .into_iter()
                .filter(|c| self.test(c, axis, test))
                .collect(),
        }
    }

    fn filter(
        &self,
        nodes: Vec<XNode<'a, 'i>>,
        preds: &[Expr],
    ) -> Result<Vec<XNode<'a, 'i>>, Error> {
        let mut nodes = nodes;
        for pred in preds {
            let size = nodes.len();
            let mut kept = Vec::with_capacity(size);
            for (k, n) in nodes.into_iter().enumerate() {
                let keep = match self.eval(pred, n, k + 1, size)? {
                    Value::Num(x) => x == (k + 1) as f64,
                    v => v.boolean(),
                };
                if keep {
                    kept.push(n);
                }
            }
            nodes = kept;
        }
        Ok(nodes)
    }

    fn axis(&self, n: XNode<'a, 'i>, axis: Axis) -> Vec<XNode<'a, 'i>> {
        let owner = match n {
            XNode::Node(x) => x,
            XNode::Attr(x, _) => x,
        };
        let is_attr = matches!(n, XNode::Attr(..));
        match axis {
            Axis::SelfAxis => vec![n],
            Axis::Attribute if !is_attr && owner.is_element() => (0..owner.attributes().len())
                .map(|i| XNode::Attr(owner, i))
                .collect(),
            Axis::Attribute => Vec::new(),
            Axis::Parent if is_attr => vec![XNode::Node(owner)],
            Axis::Parent => owner.parent().map(XNode::Node).into_iter().collect(),
            Axis::Ancestor | Axis::AncestorOrSelf => {
                let mut v = Vec::new();
                if axis == Axis::AncestorOrSelf {
                    v.push(n);
                }
                let start = if is_attr { Some(owner) } else { owner.parent() };
                let mut cur = start;
                while let Some(c) = cur {
                    v.push(XNode::Node(c));
                    cur = c.parent();
                }
                v
            }
            _ if is_attr => Vec::new(),
            Axis::Child => owner.children().map(XNode::Node).collect(),
            Axis::Descendant => owner.descendants().skip(1).map(XNode::Node).collect(),
            Axis::DescendantOrSelf => owner.descendants().map(XNode::Node).collect(),
            Axis::FollowingSibling => owner.next_siblings().skip(1).map(XNode::Node).collect(),
            Axis::PrecedingSibling => owner.prev_siblings().skip(1).map(XNode::Node).collect(),
        }
    }

    fn test(&self, n: &XNode<'a, 'i>, axis: Axis, test: &Test) -> bool {
        let principal_attr = axis == Axis::Attribute;
        let (ns, local) = match n {
            XNode::Attr(o, i) => {
                if !principal_attr {
                    return matches!(test, Test::Node);
                }
                let Some(a) = o.attributes().nth(*i) else {
                    return false;
                };
                (a.namespace(), a.name())
            }
            XNode::Node(x) => {
                match test {
                    Test::Node => return true,
                    Test::Text => return x.node_type() == NodeType::Text,
                    _ => {}
                }
                if !x.is_element() || principal_attr {
                    return false;
                }
                (x.tag_name().namespace(), x.tag_name().name())
            }
        };
        match test {
            Test::Any | Test::Node => true,
            Test::Text => false,
            Test::AnyIn(p) => self.ns.get(p).map(String::as_str) == ns,
            Test::Name(None, name) => ns.is_none() && local == name,
            Test::Name(Some(p), name) => local == name && self.ns.get(p).map(String::as_str) == ns,
        }
    }

    fn call(
        &self,
        name: &str,
        args: &[Expr],
        node: XNode<'a, 'i>,
        pos: usize,
        size: usize,
    ) -> Result<Value<'a, 'i>, Error> {
        let arg = |k: usize| -> Result<Value<'a, 'i>, Error> {
            args.get(k)
                .ok_or_else(|| Error::Evaluation(format!("{name}() needs argument {}", k + 1)))
                .and_then(|a| self.eval(a, node, pos, size))
        };
        let str_arg = |k: usize| -> Result<String, Error> { Ok(arg(k)?.string()) };
        let node_arg = |k: usize| -> Result<Option<XNode<'a, 'i>>, Error> {
            if args.is_empty() {
                return Ok(Some(node));
            }
            match arg(k)? {
                Value::Nodes(n) => Ok(n.first().copied()),
                _ => Err(Error::Evaluation(format!("{name}() needs a node-set"))),
            }
        };
        Ok(match name {
            "count" => match arg(0)? {
                Value::Nodes(n) => Value::Num(n.len() as f64),
                Value::Seq(s) => Value::Num(s.len() as f64),
                _ => return Err(Error::Evaluation("count() needs a node-set".into())),
            },
            "not" => Value::Bool(!arg(0)?.boolean()),
            "boolean" => Value::Bool(arg(0)?.boolean()),
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "string" if args.is_empty() => Value::Str(node.string_value()),
            "string" => Value::Str(str_arg(0)?),
            "number" if args.is_empty() => Value::Num(string_to_number(&node.string_value())),
            "number" => Value::Num(arg(0)?.number()),
            "string-length" if args.is_empty() => {
                Value::Num(node.string_value().chars().count() as f64)
            }
            "string-length" => Value::Num(str_arg(0)?.chars().count() as f64),
            "normalize-space" => {
                let s = if args.is_empty() {
                    node.string_value()
                } else {
                    str_arg(0)?
                };
                Value::Str(s.split_whitespace().collect::<Vec<_>>().join(" "))
            }
            "contains" => Value::Bool(str_arg(0)?.contains(&str_arg(1)?)),
            "starts-with" => Value::Bool(str_arg(0)?.starts_with(&str_arg(1)?)),
            "substring-after" => {
                let (s, t) = (str_arg(0)?, str_arg(1)?);
                Value::Str(
                    s.find(&t)
                        .map(|p| s[p + t.len()..].to_string())
                        .unwrap_or_default(),
                )
            }
            "substring-before" => {
                let (s, t) = (str_arg(0)?, str_arg(1)?);
                Value::Str(s.find(&t).map(|p| s[..p].to_string()).unwrap_or_default())
            }
            "concat" => Value::Str(
                (0..args.len())
                    .map(str_arg)
                    .collect::<Result<Vec<_>, _>>()?
                    .concat(),
            ),
            "local-name" => Value::Str(node_arg(0)?.map(|n| n.local_name()).unwrap_or_default()),
            "name" => Value::Str(node_arg(0)?.map(|n| n.qname()).unwrap_or_default()),
            "position" => Value::Num(pos as f64),
            "last" => Value::Num(size as f64),
            "sum" => match arg(0)? {
                Value::Nodes(n) => {
                    Value::Num(n.iter().map(|x| string_to_number(&x.string_value())).sum())
                }
                _ => return Err(Error::Evaluation("sum() needs a node-set".into())),
            },
            "matches" => Value::Bool(matches(&str_arg(0)?, &str_arg(1)?)?),
            other => return Err(Error::Evaluation(format!("unknown function {other}()"))),
        })
    }
}

/// XPath 2.0 `matches`: search semantics, compiled regexes cached per thread.
fn matches(input: &str, pattern: &str) -> Result<bool, Error> {
    REGEXES.with(|cache| {
        let mut cache = cache.borrow_mut();
        let re = cache
            .entry(pattern.to_string())
            .or_insert_with(|| regex::Regex::new(pattern));
        re.as_ref()
            .map(|r| r.is_match(input))
            .map_err(|e| Error::Evaluation(format!("bad regex {pattern:?}: {e}")))
    })
}
