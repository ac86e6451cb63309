//! ISO schematron, run the way the gateway runs its files.
//!
//! A file is compiled once: every `context`, `let`, `test` and `value-of` is parsed
//! into an expression tree. Running it on a document fires, for each element, only
//! the first rule (in file order) whose context matches it; `let` variables are
//! evaluated in that rule's context; a false `assert` is an error, a true `report`
//! a warning. A `let` whose content is XSLT (no `value`) yields the element's
//! ancestor path, which is all the gateway's files use it for (message text).

use std::collections::{HashMap, HashSet};

use roxmltree::{Document, Node};

use crate::Error;
use crate::xpath::check::{Scope, check};
use crate::xpath::{Env, Expr, Value, XNode, parse};

/// A compiled rule file.
#[derive(Debug)]
pub struct Schematron {
    /// File name, for messages.
    pub file: String,
    ns: HashMap<String, String>,
    globals: Vec<(String, LetValue)>,
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    context: Expr,
    items: Vec<Item>,
}

#[derive(Debug)]
enum LetValue {
    Expr(Expr),
    AncestorPath,
}

#[derive(Debug)]
enum Item {
    Let(String, LetValue),
    Check(Check),
}

#[derive(Debug)]
struct Check {
    report: bool,
    test: Expr,
    message: Vec<Part>,
}

#[derive(Debug)]
enum Part {
    Text(String),
    Name,
    ValueOf(Expr),
}

/// The code of a finding the engine made itself: a rule it could not evaluate.
pub const ENGINE_FAILURE: &str = "FSEMW-SCHEMATRON-ENGINE";

/// One fired assertion or report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The code before `|` in the message (`ERRORE-56`, `W001`…).
    pub code: String,
    /// The whole message, whitespace collapsed.
    pub text: String,
}

/// What a document got.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// Failed asserts, in document order.
    pub failed: Vec<Finding>,
    /// Fired reports, in document order.
    pub reports: Vec<Finding>,
}

fn is(n: &Node<'_, '_>, name: &str) -> bool {
    n.is_element() && n.tag_name().name() == name
}

fn compile_expr(src: &str, where_: &str) -> Result<Expr, Error> {
    parse(src).map_err(|e| e.within(where_))
}

fn compile_let(n: &Node<'_, '_>) -> Result<(String, LetValue), Error> {
    let name = n
        .attribute("name")
        .ok_or_else(|| missing("let without a name"))?
        .to_string();
    let value = match n.attribute("value") {
        Some(v) => LetValue::Expr(compile_expr(v, &format!("let {name}"))?),
        None => LetValue::AncestorPath,
    };
    Ok((name, value))
}

fn compile_check(n: &Node<'_, '_>, report: bool) -> Result<Check, Error> {
    let test = n
        .attribute("test")
        .ok_or_else(|| missing("assert without a test"))?;
    let test = compile_expr(test, "test")?;
    let mut message = Vec::new();
    for d in n.descendants().skip(1) {
        if d.is_text() {
            if !d
                .ancestors()
                .skip(1)
                .any(|a| is(&a, "value-of") || is(&a, "name"))
            {
                message.push(Part::Text(d.text().unwrap_or_default().to_string()));
            }
        } else if is(&d, "name") {
            message.push(Part::Name);
        } else if is(&d, "value-of") {
            message.push(Part::ValueOf(compile_expr(
                d.attribute("select").unwrap_or("."),
                "value-of",
            )?));
        }
    }
    Ok(Check {
        report,
        test,
        message,
    })
}

/// A rule file lacking what it must have.
fn missing(what: &'static str) -> Error {
    Error::Incomplete(what)
}

fn rule_label(n: &Node<'_, '_>, i: usize) -> String {
    let context = n.attribute("context").unwrap_or("?");
    match n.attribute("id") {
        Some(id) => format!("{id} (context {context})"),
        None => format!("#{} (context {context})", i + 1),
    }
}

/// A rule: its context (made absolute) and its lets and checks, each checked
/// against what the engine implements with the variables bound at its place.
fn compile_rule(
    n: &Node<'_, '_>,
    prefixes: &HashSet<String>,
    globals: &HashSet<String>,
) -> Result<Rule, Error> {
    let ctx = n
        .attribute("context")
        .ok_or_else(|| missing("rule without context"))?;
    let absolute = if ctx.trim_start().starts_with('/') {
        ctx.to_string()
    } else {
        format!("//{ctx}")
    };
    let context = compile_expr(&absolute, "context")?;
    // Contexts are evaluated without variables (see `run`).
    let none = HashSet::new();
    check(
        &context,
        &Scope {
            prefixes,
            variables: &none,
        },
    )
    .map_err(|e| e.within("context"))?;
    let mut bound = globals.clone();
    let mut items = Vec::new();
    for c in n.children().filter(|c| c.is_element()) {
        if is(&c, "let") {
            let (name, value) = compile_let(&c)?;
            supported(&value, prefixes, &bound).map_err(|e| e.within(format!("let {name}")))?;
            bound.insert(name.clone());
            items.push(Item::Let(name, value));
        } else if is(&c, "assert") || is(&c, "report") {
            let rule_check = compile_check(&c, is(&c, "report"))?;
            let scope = Scope {
                prefixes,
                variables: &bound,
            };
            check(&rule_check.test, &scope).map_err(|e| e.within("test"))?;
            for part in &rule_check.message {
                if let Part::ValueOf(e) = part {
                    check(e, &scope).map_err(|e| e.within("value-of"))?;
                }
            }
            items.push(Item::Check(rule_check));
        }
    }
    Ok(Rule { context, items })
}

fn supported(
    value: &LetValue,
    prefixes: &HashSet<String>,
    variables: &HashSet<String>,
) -> Result<(), Error> {
    match value {
        LetValue::Expr(e) => check(
            e,
            &Scope {
                prefixes,
                variables,
            },
        ),
        LetValue::AncestorPath => Ok(()),
    }
}

// === impl Schematron ===

impl Schematron {
    /// Compiles a rule file; refuses one that uses what the engine does not implement,
    /// naming the rule (see `xpath::check`).
    pub fn compile(text: &str, file: &str) -> Result<Self, Error> {
        let doc = Document::parse(text).map_err(|e| Error::malformed(file, e))?;
        let root = doc.root_element();
        let ns: HashMap<String, String> = root
            .descendants()
            .filter(|n| is(n, "ns"))
            .filter_map(|n| Some((n.attribute("prefix")?.into(), n.attribute("uri")?.into())))
            .collect();
        let prefixes: HashSet<String> = ns.keys().cloned().collect();
        let mut globals = Vec::new();
        let mut bound = HashSet::new();
        for n in root.descendants().filter(|n| is(n, "let")).filter(|n| {
            n.parent()
                .is_some_and(|p| is(&p, "schema") || is(&p, "pattern"))
        }) {
            let (name, value) = compile_let(&n).map_err(|e| e.within(file))?;
            supported(&value, &prefixes, &bound)
                .map_err(|e| e.within(format!("let {name}")).within(file))?;
            bound.insert(name.clone());
            globals.push((name, value));
        }
        let mut rules = Vec::new();
        for (i, n) in root.descendants().filter(|n| is(n, "rule")).enumerate() {
            let label = rule_label(&n, i);
            let rule = compile_rule(&n, &prefixes, &bound)
                .map_err(|e| e.within(format!("rule {label}")).within(file))?;
            rules.push(rule);
        }
        Ok(Self {
            file: file.to_string(),
            ns,
            globals,
            rules,
        })
    }

    /// Runs the rules on a parsed CDA.
    pub fn run(&self, doc: &Document<'_>) -> Outcome {
        let empty = HashMap::new();
        let root = XNode::Node(doc.root());
        let mut out = Outcome::default();
        let mut globals: HashMap<String, Value<'_, '_>> = HashMap::new();
        for (name, value) in &self.globals {
            let env = Env {
                ns: &self.ns,
                vars: &globals,
                doc,
            };
            let v = match value {
                LetValue::Expr(e) => env.eval(e, root, 1, 1).unwrap_or_else(|err| {
                    out.failed
                        .push(engine_failure_at(name, &err.to_string(), "/"));
                    Value::Str(String::new())
                }),
                LetValue::AncestorPath => Value::Str(String::new()),
            };
            globals.insert(name.clone(), v);
        }
        // Each element fires only the first rule whose context matches it. A context
        // that cannot be evaluated is a failure, never "no match".
        let mut fired: Vec<(XNode<'_, '_>, usize)> = Vec::new();
        let mut taken = HashSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let env = Env {
                ns: &self.ns,
                vars: &empty,
                doc,
            };
            match env.eval(&rule.context, root, 1, 1) {
                Ok(Value::Nodes(nodes)) => {
                    for n in nodes {
                        if taken.insert(n.key()) {
                            fired.push((n, i));
                        }
                    }
                }
                Ok(_) => out
                    .failed
                    .push(engine_failure(i, "the context is not a node-set")),
                Err(e) => out.failed.push(engine_failure(i, &e.to_string())),
            }
        }
        fired.sort_by_key(|(n, _)| n.key());
        for (node, i) in fired {
            self.fire(&self.rules[i], node, doc, &globals, &mut out);
        }
        out
    }

    fn fire<'a, 'i>(
        &self,
        rule: &Rule,
        node: XNode<'a, 'i>,
        doc: &'a Document<'i>,
        globals: &HashMap<String, Value<'a, 'i>>,
        out: &mut Outcome,
    ) {
        let mut vars = globals.clone();
        for item in &rule.items {
            match item {
                Item::Let(name, value) => {
                    let v = match value {
                        LetValue::Expr(e) => Env {
                            ns: &self.ns,
                            vars: &vars,
                            doc,
                        }
                        .eval(e, node, 1, 1)
                        .unwrap_or_else(|err| {
                            out.failed.push(engine_failure_at(
                                name,
                                &err.to_string(),
                                &ancestor_path(node),
                            ));
                            Value::Str(String::new())
                        }),
                        LetValue::AncestorPath => Value::Str(ancestor_path(node)),
                    };
                    vars.insert(name.clone(), v);
                }
                Item::Check(check) => {
                    let env = Env {
                        ns: &self.ns,
                        vars: &vars,
                        doc,
                    };
                    let result = env.eval(&check.test, node, 1, 1);
                    let fires = match (&result, check.report) {
                        (Ok(v), false) => !v.boolean(),
                        (Ok(v), true) => v.boolean(),
                        // An expression the engine cannot evaluate fails its assert, loudly.
                        (Err(_), report) => !report,
                    };
                    if fires {
                        let mut finding = self.message(check, node, &env);
                        if let Err(e) = result {
                            finding.text.push_str(&format!(" [evaluation error: {e}]"));
                        }
                        if check.report {
                            out.reports.push(finding)
                        } else {
                            out.failed.push(finding)
                        }
                    }
                }
            }
        }
    }

    fn message<'a, 'i>(
        &self,
        check: &Check,
        node: XNode<'a, 'i>,
        env: &Env<'a, 'i, '_>,
    ) -> Finding {
        let mut text = String::new();
        for part in &check.message {
            match part {
                Part::Text(t) => text.push_str(t),
                Part::Name => text.push_str(&node.qname()),
                Part::ValueOf(e) => text.push_str(
                    &env.eval(e, node, 1, 1)
                        .map(|v| v.string())
                        .unwrap_or_default(),
                ),
            }
        }
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let code = text
            .split('|')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        Finding { code, text }
    }
}

/// A rule the engine could not run, reported as a failed assertion.
fn engine_failure(rule: usize, why: &str) -> Finding {
    Finding {
        code: ENGINE_FAILURE.to_string(),
        text: format!(
            "{ENGINE_FAILURE} | rule #{} could not be evaluated: {why}",
            rule + 1
        ),
    }
}

/// A `let` that could not be evaluated at an element.
fn engine_failure_at(name: &str, why: &str, at: &str) -> Finding {
    Finding {
        code: ENGINE_FAILURE.to_string(),
        text: format!("{ENGINE_FAILURE} | let {name} could not be evaluated at {at}: {why}"),
    }
}

fn ancestor_path(node: XNode<'_, '_>) -> String {
    let Some(el) = node.element() else {
        return String::new();
    };
    let mut names: Vec<String> = el
        .ancestors()
        .filter(|a| a.is_element())
        .map(|a| a.tag_name().name().to_string())
        .collect();
    names.reverse();
    format!("/{}", names.join("/"))
}
