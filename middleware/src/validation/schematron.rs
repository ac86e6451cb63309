//! ISO schematron, run the way the gateway runs its files.
//!
//! A file is compiled once: every `context`, `let`, `test` and `value-of` is parsed
//! into an expression tree. Running it on a document fires, for each element, only
//! the first rule (in file order) whose context matches it; `let` variables are
//! evaluated in that rule's context; a false `assert` is an error, a true `report`
//! a warning. A `let` whose content is XSLT (no `value`) yields the element's
//! ancestor path, which is all the gateway's files use it for (message text).

use std::collections::HashMap;

use roxmltree::{Document, Node};

use super::xpath::{Env, Expr, Value, XNode, parse};

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

fn compile_expr(src: &str, where_: &str) -> Result<Expr, String> {
    parse(src).map_err(|e| format!("{where_}: {e}"))
}

fn compile_let(n: &Node<'_, '_>) -> Result<(String, LetValue), String> {
    let name = n.attribute("name").ok_or("let without a name")?.to_string();
    let value = match n.attribute("value") {
        Some(v) => LetValue::Expr(compile_expr(v, &format!("let {name}"))?),
        None => LetValue::AncestorPath,
    };
    Ok((name, value))
}

fn compile_check(n: &Node<'_, '_>, report: bool) -> Result<Check, String> {
    let test = compile_expr(n.attribute("test").ok_or("assert without a test")?, "test")?;
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

// === impl Schematron ===

impl Schematron {
    /// Compiles a rule file.
    pub fn compile(text: &str, file: &str) -> Result<Self, String> {
        let doc = Document::parse(text).map_err(|e| format!("{file}: {e}"))?;
        let root = doc.root_element();
        let mut ns = HashMap::new();
        let mut globals = Vec::new();
        let mut rules = Vec::new();
        for n in root.descendants().filter(|n| n.is_element()) {
            if is(&n, "ns") {
                if let (Some(p), Some(u)) = (n.attribute("prefix"), n.attribute("uri")) {
                    ns.insert(p.to_string(), u.to_string());
                }
            } else if is(&n, "let")
                && n.parent()
                    .is_some_and(|p| is(&p, "schema") || is(&p, "pattern"))
            {
                globals.push(compile_let(&n).map_err(|e| format!("{file}: {e}"))?);
            } else if is(&n, "rule") {
                let ctx = n
                    .attribute("context")
                    .ok_or_else(|| format!("{file}: rule without context"))?;
                let absolute = if ctx.trim_start().starts_with('/') {
                    ctx.to_string()
                } else {
                    format!("//{ctx}")
                };
                let context = compile_expr(&absolute, &format!("{file}: context {ctx}"))?;
                let mut items = Vec::new();
                for c in n.children().filter(|c| c.is_element()) {
                    let item = if is(&c, "let") {
                        let (name, value) = compile_let(&c)?;
                        Item::Let(name, value)
                    } else if is(&c, "assert") || is(&c, "report") {
                        Item::Check(
                            compile_check(&c, is(&c, "report"))
                                .map_err(|e| format!("{file}: {e}"))?,
                        )
                    } else {
                        continue;
                    };
                    items.push(item);
                }
                rules.push(Rule { context, items });
            }
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
        let mut globals: HashMap<String, Value<'_, '_>> = HashMap::new();
        for (name, value) in &self.globals {
            let env = Env {
                ns: &self.ns,
                vars: &globals,
                doc,
            };
            let v = match value {
                LetValue::Expr(e) => env.eval(e, root, 1, 1).unwrap_or(Value::Str(String::new())),
                LetValue::AncestorPath => Value::Str(String::new()),
            };
            globals.insert(name.clone(), v);
        }
        // Each element fires only the first rule whose context matches it.
        let mut fired: Vec<(XNode<'_, '_>, usize)> = Vec::new();
        let mut taken = std::collections::HashSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let env = Env {
                ns: &self.ns,
                vars: &empty,
                doc,
            };
            if let Ok(Value::Nodes(nodes)) = env.eval(&rule.context, root, 1, 1) {
                for n in nodes {
                    if taken.insert(n.key()) {
                        fired.push((n, i));
                    }
                }
            }
        }
        fired.sort_by_key(|(n, _)| n.key());
        let mut out = Outcome::default();
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
                        .unwrap_or(Value::Str(String::new())),
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
