//! libxml2's schema-validity messages in the words of the gateway's validator.
//!
//! The gateway validates with the JDK's Xerces over a DOM (`it-fse-gtw-validator`
//! `SchemaSRV.validateXsd` @ a57ca551: `validator.validate(new DOMSource(document))`), so
//! every message is `ERROR: -1,-1 ` and Xerces's text (`cvc-…` keys of its
//! `XMLSchemaMessages`), warnings first, then errors, then fatal errors (`ValidationCTL`,
//! `CDASeverityViolationEnum` order). Live answers quoted in `docs/gateway-fidelity.md`
//! (it-fse-support #893, #1479, #682, #882) pin the wording. This module rewrites each of
//! libxml2's findings into the finding Xerces reports for the same violation; a message
//! it does not know keeps libxml2's text.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::index::{Facet, TypeIndex};

/// The severity of one finding, in the order the gateway lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// `WARN:`
    Warn,
    /// `ERROR:`
    Error,
    /// `FATAL:`
    Fatal,
}

/// One finding as libxml2 reports it.
#[derive(Debug, Clone)]
pub(crate) struct Reported {
    /// Its severity.
    pub(crate) level: Level,
    /// The line of the element it is about.
    pub(crate) line: u32,
    /// libxml2's text.
    pub(crate) message: String,
}

/// A finding read into its parts: `Element '{ns}name'[, attribute 'a']: rest`.
#[derive(Debug)]
struct Finding {
    level: Level,
    line: u32,
    element: String,
    attribute: Option<String>,
    rest: String,
}

/// The document's prefixes, to print names as written (Xerces prints raw names).
struct Names {
    prefixes: HashMap<String, String>,
}

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

static HEAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)^Element '([^']+)'(?:, attribute '([^']+)')?: (.*)$").expect("valid regex")
});

macro_rules! pattern {
    ($name:ident, $re:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| Regex::new($re).expect("valid regex"));
    };
}

pattern!(
    NOT_EXPECTED,
    r"^This element is not expected\. Expected is (?:one of )?\( (.*) \)\.$"
);
pattern!(
    MISSING,
    r"^Missing child element\(s\)\. Expected is (?:one of )?\( (.*) \)\.$"
);
pattern!(
    LENGTH,
    r"^\[facet '(minLength|maxLength|length)'\] The value '(.*)' has a length of '(\d+)'; this (?:underruns the allowed minimum length|exceeds the allowed maximum length|differs from the allowed length) of '(\d+)'\.$"
);
pattern!(
    PATTERN,
    r"^\[facet 'pattern'\] The value '(.*)' is not accepted by the pattern '(.*)'\.$"
);
pattern!(
    ENUMERATION,
    r"^\[facet 'enumeration'\] The value '(.*)' is not an element of the set \{(.*)\}\.$"
);
pattern!(
    DATATYPE,
    r"^'(.*)' is not a valid value of the (atomic|union|list) type '([^']+)'\.$"
);
pattern!(
    FIXED,
    r"^The value '(.*)' does not match the fixed value constraint '(.*)'\.$"
);
pattern!(
    XSI_TYPE,
    r"^The QName value '([^']+)' of the xsi:type attribute does not resolve to a type definition\.$"
);
pattern!(
    REQUIRED,
    r"^The attribute '([^']+)' is required but missing\.$"
);

/// Rewrites libxml2's findings for `doc` as the gateway's validator words them, each
/// already prefixed with its severity and `-1,-1`.
pub(crate) fn in_xerces_words(
    reported: &[Reported],
    doc: &roxmltree::Document<'_>,
    index: &TypeIndex,
) -> Vec<String> {
    let names = Names::of(doc);
    let mut findings: Vec<(Level, String)> = Vec::new();
    for group in first_failure_only(attribute_order(reported, &names)) {
        match group {
            Ok(f) => {
                for text in translate(&f, &names, doc, index) {
                    findings.push((f.level, text));
                }
            }
            Err(r) => findings.push((r.level, r.message.trim().to_string())),
        }
    }
    findings.sort_by_key(|(level, _)| *level);
    findings
        .into_iter()
        .map(|(level, text)| format!("{}: -1,-1 {text}", level.label()))
        .collect()
}

/// The findings read, those about attributes of one element in the order of their
/// qualified names: the validator walks a DOM, whose attribute map is kept sorted by
/// `nodeName`.
fn attribute_order<'r>(
    reported: &'r [Reported],
    names: &Names,
) -> Vec<Result<Finding, &'r Reported>> {
    let mut out: Vec<Result<Finding, &Reported>> = Vec::new();
    for r in reported {
        let Some(c) = HEAD.captures(r.message.trim()) else {
            out.push(Err(r));
            continue;
        };
        out.push(Ok(Finding {
            level: r.level,
            line: r.line,
            element: c[1].to_string(),
            attribute: c.get(2).map(|m| m.as_str().to_string()),
            rest: c[3].to_string(),
        }));
    }
    let mut start = 0;
    while start < out.len() {
        let mut end = start + 1;
        while end < out.len() && same_element_attributes(&out[start], &out[end]) {
            end += 1;
        }
        out[start..end].sort_by_key(|f| names.raw(attribute_name(f)));
        start = end;
    }
    out
}

/// One finding per value: libxml2 reports every facet a value fails, Xerces throws at
/// the first, checking the pattern, then the datatype, then the other facets
/// (`XSSimpleTypeDecl.getActualValue`, then `checkFacets`).
fn first_failure_only<'r>(
    found: Vec<Result<Finding, &'r Reported>>,
) -> Vec<Result<Finding, &'r Reported>> {
    let rank = |f: &Finding| -> Option<u8> {
        let rest = f.rest.as_str();
        if PATTERN.is_match(rest) {
            Some(0)
        } else if DATATYPE.is_match(rest) {
            Some(1)
        } else if LENGTH.is_match(rest) || ENUMERATION.is_match(rest) {
            Some(2)
        } else {
            None
        }
    };
    let mut out: Vec<Result<Finding, &'r Reported>> = Vec::new();
    for item in found {
        let Ok(f) = &item else {
            out.push(item);
            continue;
        };
        let Some(r) = rank(f) else {
            out.push(item);
            continue;
        };
        let earlier = out.iter_mut().rev().find_map(|o| match o {
            Ok(g) if g.line == f.line && g.element == f.element && g.attribute == f.attribute => {
                rank(g).map(|gr| (g, gr))
            }
            _ => None,
        });
        match earlier {
            Some((g, gr)) if r < gr => *g = item.expect("matched Ok above"),
            Some(_) => {}
            None => out.push(item),
        }
    }
    out
}

fn same_element_attributes(a: &Result<Finding, &Reported>, b: &Result<Finding, &Reported>) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => {
            a.attribute.is_some()
                && b.attribute.is_some()
                && a.line == b.line
                && a.element == b.element
        }
        _ => false,
    }
}

fn attribute_name<'a>(f: &'a Result<Finding, &Reported>) -> &'a str {
    match f {
        Ok(f) => f.attribute.as_deref().unwrap_or_default(),
        Err(_) => "",
    }
}

fn translate(
    f: &Finding,
    names: &Names,
    doc: &roxmltree::Document<'_>,
    index: &TypeIndex,
) -> Vec<String> {
    let element = names.raw(&f.element);
    if let Some(attribute) = &f.attribute {
        let attribute = names.raw(attribute);
        if let Some(texts) = attribute_value(f, &element, &attribute, names, index) {
            return texts;
        }
        return vec![f.rest.clone()];
    }
    if let Some(texts) = element_value(f, &element, index) {
        return texts;
    }
    let rest = f.rest.as_str();
    if let Some(c) = NOT_EXPECTED.captures(rest) {
        return vec![format!(
            "cvc-complex-type.2.4.a: Invalid content was found starting with element '{element}'. One of '{}' is expected.",
            expected(&c[1])
        )];
    }
    if let Some(c) = MISSING.captures(rest) {
        return vec![format!(
            "cvc-complex-type.2.4.b: The content of element '{element}' is not complete. One of '{}' is expected.",
            expected(&c[1])
        )];
    }
    if let Some(c) = REQUIRED.captures(rest) {
        let attribute = names.raw(&c[1]);
        return vec![format!(
            "cvc-complex-type.4: Attribute '{attribute}' must appear on element '{element}'."
        )];
    }
    match rest {
        "This element is not expected." => vec![format!(
            "cvc-complex-type.2.4.d: Invalid content was found starting with element '{element}'. No child element is expected at this point."
        )],
        "The type definition is abstract." => abstract_type(f, &element, names, doc, index),
        "Character content other than whitespace is not allowed because the content type is 'element-only'." =>
        {
            vec![format!(
                "cvc-complex-type.2.3: Element '{element}' cannot have character [children], because the type's content type is element-only."
            )]
        }
        "Character content is not allowed, because the content type is empty."
        | "Element content is not allowed, because the content type is empty." => {
            vec![empty_content(&element)]
        }
        "No matching global declaration available for the validation root." => {
            vec![format!(
                "cvc-elt.1.a: Cannot find the declaration of element '{element}'."
            )]
        }
        _ => vec![rest.to_string()],
    }
}

/// A value that failed its type: Xerces names the facet or datatype, then the attribute.
fn attribute_value(
    f: &Finding,
    element: &str,
    attribute: &str,
    names: &Names,
    index: &TypeIndex,
) -> Option<Vec<String>> {
    let rest = f.rest.as_str();
    if rest
        == format!(
            "The attribute '{}' is not allowed.",
            f.attribute.as_deref()?
        )
    {
        return Some(vec![format!(
            "cvc-complex-type.3.2.2: Attribute '{attribute}' is not allowed to appear in element '{element}'."
        )]);
    }
    if let Some(c) = FIXED.captures(rest) {
        return Some(vec![format!(
            "cvc-complex-type.3.1: Value '{}' of attribute '{attribute}' of element '{element}' is not valid with respect to the corresponding attribute use. Attribute '{attribute}' has a fixed value of '{}'.",
            &c[1], &c[2]
        )]);
    }
    if let Some(c) = XSI_TYPE.captures(rest) {
        return Some(vec![format!(
            "cvc-elt.4.2: Cannot resolve '{}' to a type definition for element '{element}'.",
            names.raw(&c[1])
        )]);
    }
    let local = attribute.rsplit(':').next().unwrap_or(attribute);
    let (value, first, declared) =
        value_failure(rest, |facet| index.attribute_type(local, facet), index)?;
    Some(vec![
        first,
        format!(
            "cvc-attribute.3: The value '{value}' of attribute '{attribute}' on element '{element}' is not valid with respect to its type, '{declared}'."
        ),
    ])
}

/// An element's simple value that failed its type.
fn element_value(f: &Finding, element: &str, index: &TypeIndex) -> Option<Vec<String>> {
    let (value, first, _) = value_failure(&f.rest, |facet| index.declaring(facet), index)?;
    Some(vec![
        first,
        format!("cvc-type.3.1.3: The value '{value}' of element '{element}' is not valid."),
    ])
}

/// The value, Xerces's facet or datatype message, and the type it names.
fn value_failure(
    rest: &str,
    type_of: impl Fn(&Facet) -> Option<String>,
    index: &TypeIndex,
) -> Option<(String, String, String)> {
    if let Some(c) = LENGTH.captures(rest) {
        let kind = match &c[1] {
            "minLength" => "minLength",
            "maxLength" => "maxLength",
            _ => "length",
        };
        let ty = type_of(&Facet::Length(kind, c[4].to_string())).unwrap_or_default();
        let text = format!(
            "cvc-{kind}-valid: Value '{}' with length = '{}' is not facet-valid with respect to {kind} '{}' for type '{ty}'.",
            &c[2], &c[3], &c[4]
        );
        return Some((c[2].to_string(), text, ty));
    }
    if let Some(c) = PATTERN.captures(rest) {
        let ty = type_of(&Facet::Pattern(c[2].to_string())).unwrap_or_default();
        let text = format!(
            "cvc-pattern-valid: Value '{}' is not facet-valid with respect to pattern '{}' for type '{ty}'.",
            &c[1], &c[2]
        );
        return Some((c[1].to_string(), text, ty));
    }
    if let Some(c) = ENUMERATION.captures(rest) {
        let set: Vec<String> = c[2]
            .split(", ")
            .map(|v| v.trim_matches('\'').to_string())
            .collect();
        let ty = type_of(&Facet::Enumeration(set.clone())).unwrap_or_default();
        let text = format!(
            "cvc-enumeration-valid: Value '{}' is not facet-valid with respect to enumeration '[{}]'. It must be a value from the enumeration.",
            &c[1],
            set.join(", ")
        );
        return Some((c[1].to_string(), text, ty));
    }
    let c = DATATYPE.captures(rest)?;
    let ty = local_name(&c[3]).to_string();
    let text = match &c[2] {
        "atomic" => format!(
            "cvc-datatype-valid.1.2.1: '{}' is not a valid value for '{}'.",
            &c[1],
            index.builtin(&ty)
        ),
        "union" => format!(
            "cvc-datatype-valid.1.2.3: '{}' is not a valid value of union type '{ty}'.",
            &c[1]
        ),
        _ => format!(
            "cvc-datatype-valid.1.2.2: '{}' is not a valid value of list type '{ty}'.",
            &c[1]
        ),
    };
    Some((c[1].to_string(), text, ty))
}

/// `ANY` (abstract) in place of a concrete type: Xerces goes on with `ANY`, so every
/// attribute it does not declare and any content are refused too.
fn abstract_type(
    f: &Finding,
    element: &str,
    names: &Names,
    doc: &roxmltree::Document<'_>,
    index: &TypeIndex,
) -> Vec<String> {
    let mut out = vec![format!(
        "cvc-type.2: The type definition cannot be abstract for element {element}."
    )];
    let Some(node) = element_at(doc, &f.element, f.line) else {
        return out;
    };
    let declared = index.attributes_of("ANY");
    let mut refused: Vec<String> = node
        .attributes()
        .filter(|a| a.namespace() != Some(XSI))
        .filter(|a| !declared.iter().any(|d| d == a.name()))
        .map(|a| match a.namespace() {
            Some(ns) => names.raw(&format!("{{{ns}}}{}", a.name())),
            None => a.name().to_string(),
        })
        .collect();
    refused.sort();
    out.extend(refused.into_iter().map(|a| {
        format!("cvc-complex-type.3.2.2: Attribute '{a}' is not allowed to appear in element '{element}'.")
    }));
    // Xerces counts any text, whitespace too (the gateway's DOM keeps it); `xsi:nil` lets
    // the element be empty of everything.
    let nil = node.attribute((XSI, "nil")) == Some("true");
    let has_content = node
        .children()
        .any(|c| c.is_element() || c.text().is_some_and(|t| !t.is_empty()));
    if has_content && !nil {
        out.push(empty_content(element));
    }
    out
}

fn empty_content(element: &str) -> String {
    format!(
        "cvc-complex-type.2.1: Element '{element}' must have no character or element information item [children], because the type's content type is empty."
    )
}

/// The element libxml2 reported: its name in Clark notation and the line it starts on.
fn element_at<'a, 'd>(
    doc: &'a roxmltree::Document<'d>,
    clark: &str,
    line: u32,
) -> Option<roxmltree::Node<'a, 'd>> {
    let (ns, name) = split_clark(clark);
    doc.descendants().find(|n| {
        n.is_element()
            && n.tag_name().name() == name
            && n.tag_name().namespace() == ns
            && doc.text_pos_at(n.range().start).row == line
    })
}

/// libxml2's expected list (`{ns}a, {ns}b`) as Xerces prints it (`"ns":a, "ns":b`).
fn expected(list: &str) -> String {
    let items: Vec<String> = list.split(", ").map(expected_item).collect();
    format!("{{{}}}", items.join(", "))
}

fn expected_item(item: &str) -> String {
    if item == "*" {
        return "WC[##any]".to_string();
    }
    if let Some(rest) = item.strip_prefix("##other") {
        let (ns, _) = split_clark(rest);
        return format!("WC[##other:\"{}\"]", ns.unwrap_or_default());
    }
    match split_clark(item) {
        (Some(ns), "*") => format!("WC[\"{ns}\"]"),
        (Some(ns), name) => format!("\"{ns}\":{name}"),
        (None, name) => name.to_string(),
    }
}

fn split_clark(clark: &str) -> (Option<&str>, &str) {
    match clark.strip_prefix('{').and_then(|r| r.split_once('}')) {
        Some((ns, name)) => (Some(ns), name),
        None => (None, clark),
    }
}

/// A type's name without its namespace, whether libxml2 writes it `{ns}name` or `xs:name`.
fn local_name(clark: &str) -> &str {
    let name = split_clark(clark).1;
    name.rsplit(':').next().unwrap_or(name)
}

// === impl Names ===

impl Names {
    fn of(doc: &roxmltree::Document<'_>) -> Self {
        let mut prefixes = HashMap::new();
        for node in doc.descendants().filter(roxmltree::Node::is_element) {
            for ns in node.namespaces() {
                let prefix = ns.name().unwrap_or_default();
                let entry = prefixes
                    .entry(ns.uri().to_string())
                    .or_insert_with(|| prefix.to_string());
                if prefix.is_empty() {
                    entry.clear();
                }
            }
        }
        Self { prefixes }
    }

    /// A name in Clark notation as the document writes it.
    fn raw(&self, clark: &str) -> String {
        match split_clark(clark) {
            (Some(ns), name) => match self.prefixes.get(ns) {
                Some(p) if !p.is_empty() => format!("{p}:{name}"),
                _ => name.to_string(),
            },
            (None, name) => name.to_string(),
        }
    }
}

// === impl Level ===

impl Level {
    fn label(self) -> &'static str {
        match self {
            Self::Warn => "WARN",
            Self::Error => "ERROR",
            Self::Fatal => "FATAL",
        }
    }
}
