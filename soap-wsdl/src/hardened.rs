//! Parsing untrusted XML: no DTD (so no entities, external or expanding), and limits on
//! size, node count and nesting depth checked before anything walks the tree.

use roxmltree::{Document, ParsingOptions};

use crate::Error;

/// Limits for one message.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest text accepted, bytes.
    pub max_bytes: usize,
    /// Most nodes (elements, attributes' owners, text) in the tree.
    pub max_nodes: u32,
    /// Deepest element nesting.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 64 << 20,
            max_nodes: 2_000_000,
            max_depth: 64,
        }
    }
}

/// Parses `text` within `limits`.
pub fn parse(text: &str, limits: Limits) -> Result<Document<'_>, Error> {
    if text.len() > limits.max_bytes {
        return Err(Error::Xml(format!(
            "the message exceeds {} bytes",
            limits.max_bytes
        )));
    }
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: limits.max_nodes,
    };
    let doc = Document::parse_with_options(text, options).map_err(|e| Error::Xml(e.to_string()))?;
    // One linear pass in document order (parents come first); nothing recurses.
    let mut depth = vec![0usize; doc.descendants().count() + 1];
    for node in doc.descendants() {
        let d = node.parent().map_or(0, |p| depth[p.id().get_usize()] + 1);
        depth[node.id().get_usize()] = d;
        if node.is_element() && d > limits.max_depth {
            return Err(Error::Xml(format!(
                "elements nested deeper than {}",
                limits.max_depth
            )));
        }
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_depth_and_size_are_refused() {
        let bomb = "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]><l>&b;</l>";
        assert!(parse(bomb, Limits::default()).is_err());
        let external = "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>";
        assert!(parse(external, Limits::default()).is_err());
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        let err = parse(&deep, Limits::default()).unwrap_err().to_string();
        assert!(err.contains("deeper than 64"), "{err}");
        assert!(parse(&"<a>".repeat(10).replace("<a>", "<a/>"), Limits::default()).is_err());
        let small = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        assert!(parse("<a>0123456789</a>", small).is_err());
        assert!(parse("<a><b/></a>", Limits::default()).is_ok());
    }
}
