//! What the gateway validator's messages name and libxml2's do not: the declared type
//! of an attribute whose value failed a facet, the built-in type behind a derived one,
//! the attributes of `ANY` (the one abstract type a CDA element is declared with).
//!
//! Read from the schema set's own files once, when the set is loaded. The type of an
//! attribute is resolved by its name and the facet that failed, not by the element's
//! declaration: every CDA attribute of one name whose type carries that facet has, in the
//! shared schema sets, one type.

use std::collections::{BTreeSet, HashMap};

const XS: &str = "http://www.w3.org/2001/XMLSchema";

/// A simple type's restriction: its base and its own facets.
#[derive(Debug, Default)]
struct SimpleType {
    base: Option<String>,
    members: Vec<String>,
    enumeration: Vec<String>,
    patterns: Vec<String>,
    lengths: Vec<(String, String)>,
}

/// A facet that failed, as libxml2 reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Facet {
    /// `minLength`, `maxLength` or `length` with its limit.
    Length(&'static str, String),
    /// A pattern, as written in the schema.
    Pattern(String),
    /// The set of allowed values, in the schema's order.
    Enumeration(Vec<String>),
}

/// The schema set's simple types and attribute declarations.
#[derive(Debug, Default)]
pub(crate) struct TypeIndex {
    simple: HashMap<String, SimpleType>,
    attribute_types: HashMap<String, BTreeSet<String>>,
    complex_attributes: HashMap<String, Vec<String>>,
}

fn local(qname: &str) -> String {
    qname.rsplit(':').next().unwrap_or(qname).to_string()
}

fn is_xs(node: &roxmltree::Node<'_, '_>, name: &str) -> bool {
    node.is_element() && node.tag_name().name() == name && node.tag_name().namespace() == Some(XS)
}

// === impl TypeIndex ===

impl TypeIndex {
    /// Indexes the text of every file of one schema set.
    pub(crate) fn read<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut index = Self::default();
        for text in texts {
            if let Ok(doc) = roxmltree::Document::parse(text) {
                index.add(&doc);
            }
        }
        index
    }

    fn add(&mut self, doc: &roxmltree::Document<'_>) {
        for node in doc.descendants() {
            if is_xs(&node, "simpleType")
                && let Some(name) = node.attribute("name")
            {
                self.simple.insert(name.to_string(), simple_type(&node));
            }
            if is_xs(&node, "attribute")
                && let (Some(name), Some(ty)) = (node.attribute("name"), node.attribute("type"))
            {
                self.attribute_types
                    .entry(name.to_string())
                    .or_default()
                    .insert(local(ty));
            }
            if is_xs(&node, "complexType")
                && let Some(name) = node.attribute("name")
            {
                let names = node
                    .descendants()
                    .filter(|n| is_xs(n, "attribute"))
                    .filter_map(|n| n.attribute("name").or(n.attribute("ref")))
                    .map(local)
                    .collect();
                self.complex_attributes.insert(name.to_string(), names);
            }
        }
    }

    /// The attributes a complex type declares itself (`ANY`: `nullFlavor`).
    pub(crate) fn attributes_of(&self, complex_type: &str) -> &[String] {
        self.complex_attributes
            .get(complex_type)
            .map_or(&[], Vec::as_slice)
    }

    /// The declared type of attribute `attribute` whose value failed `facet`: the one
    /// declared type carrying the facet, else the type declaring it.
    pub(crate) fn attribute_type(&self, attribute: &str, facet: &Facet) -> Option<String> {
        let declared = self.attribute_types.get(attribute);
        let carrying = declared
            .into_iter()
            .flatten()
            .find(|t| self.carries(t, facet, 0));
        carrying.cloned().or_else(|| self.declaring(facet))
    }

    /// The simple type that declares `facet` itself (for an element's value).
    pub(crate) fn declaring(&self, facet: &Facet) -> Option<String> {
        let mut owners: Vec<&String> = self
            .simple
            .iter()
            .filter(|(_, t)| t.declares(facet))
            .map(|(n, _)| n)
            .collect();
        owners.sort();
        owners.first().map(|n| (*n).clone())
    }

    /// The built-in type a simple type restricts, as Xerces names its datatype
    /// (`integer` for the whole integer family).
    pub(crate) fn builtin(&self, name: &str) -> String {
        let mut current = local(name);
        for _ in 0..32 {
            match self.simple.get(&current).and_then(|t| t.base.as_deref()) {
                Some(base) => current = local(base),
                None => break,
            }
        }
        match current.as_str() {
            "int" | "long" | "short" | "byte" | "nonNegativeInteger" | "positiveInteger"
            | "negativeInteger" | "nonPositiveInteger" | "unsignedLong" | "unsignedInt"
            | "unsignedShort" | "unsignedByte" => "integer".to_string(),
            // Xerces checks these by the NCName pattern and names it.
            "ID" | "IDREF" | "ENTITY" => "NCName".to_string(),
            _ => current,
        }
    }

    fn carries(&self, name: &str, facet: &Facet, depth: usize) -> bool {
        let Some(t) = self.simple.get(name) else {
            return false;
        };
        if depth > 32 {
            return false;
        }
        t.declares(facet)
            || t.base
                .as_deref()
                .is_some_and(|b| self.carries(&local(b), facet, depth + 1))
            || t.members
                .iter()
                .any(|m| self.carries(&local(m), facet, depth + 1))
    }
}

fn simple_type(node: &roxmltree::Node<'_, '_>) -> SimpleType {
    let mut t = SimpleType::default();
    for child in node.descendants() {
        if is_xs(&child, "restriction") && t.base.is_none() {
            t.base = child.attribute("base").map(str::to_string);
        }
        if is_xs(&child, "union") {
            t.members = child
                .attribute("memberTypes")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect();
        }
        let value = child.attribute("value").map(str::to_string);
        match (child.tag_name().name(), value) {
            ("enumeration", Some(v)) if is_xs(&child, "enumeration") => t.enumeration.push(v),
            ("pattern", Some(v)) if is_xs(&child, "pattern") => t.patterns.push(v),
            (kind @ ("minLength" | "maxLength" | "length"), Some(v)) if is_xs(&child, kind) => {
                t.lengths.push((kind.to_string(), v))
            }
            _ => {}
        }
    }
    t
}

// === impl SimpleType ===

impl SimpleType {
    fn declares(&self, facet: &Facet) -> bool {
        match facet {
            Facet::Length(kind, limit) => self.lengths.iter().any(|(k, v)| k == kind && v == limit),
            Facet::Pattern(p) => self.patterns.iter().any(|x| x == p),
            Facet::Enumeration(set) => {
                let mut own: Vec<&String> = self.enumeration.iter().collect();
                let mut other: Vec<&String> = set.iter().collect();
                own.sort();
                other.sort();
                !own.is_empty() && own == other
            }
        }
    }
}
