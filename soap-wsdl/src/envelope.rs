//! Reading a SOAP envelope: version, WS-Addressing headers, the body's payload.

use roxmltree::{Document, Node};

use crate::{Error, SoapVersion};

/// WS-Addressing namespace.
pub const WSA: &str = "http://www.w3.org/2005/08/addressing";

/// The parts of a received envelope the services use.
#[derive(Debug)]
pub struct Envelope<'a, 'i> {
    /// SOAP version of the envelope.
    pub version: SoapVersion,
    /// `wsa:Action`.
    pub action: Option<String>,
    /// `wsa:MessageID`.
    pub message_id: Option<String>,
    /// `wsa:To`.
    pub to: Option<String>,
    /// The `Header` element, if any (security headers are read from it).
    pub header: Option<Node<'a, 'i>>,
    /// The first element child of `Body`.
    pub payload: Node<'a, 'i>,
}

/// Reads the envelope of a parsed document.
pub fn parse_envelope<'a, 'i>(doc: &'a Document<'i>) -> Result<Envelope<'a, 'i>, Error> {
    let root = doc.root_element();
    let ns = root.tag_name().namespace().unwrap_or_default();
    if root.tag_name().name() != "Envelope" {
        return Err(Error::NotAnEnvelope(root.tag_name().name().to_string()));
    }
    let version = SoapVersion::from_envelope_ns(ns)?;
    let in_soap = |n: &Node<'_, '_>, name: &str| {
        n.is_element() && n.tag_name().namespace() == Some(ns) && n.tag_name().name() == name
    };
    let header = root.children().find(|n| in_soap(n, "Header"));
    let body = root
        .children()
        .find(|n| in_soap(n, "Body"))
        .ok_or(Error::NoBody)?;
    let payload = body
        .children()
        .find(Node::is_element)
        .ok_or(Error::NoBody)?;
    let wsa = |name: &str| {
        header.and_then(|h| {
            h.children()
                .find(|c| {
                    c.is_element()
                        && c.tag_name().namespace() == Some(WSA)
                        && c.tag_name().name() == name
                })
                .and_then(|c| c.text())
                .map(|t| t.trim().to_string())
        })
    };
    Ok(Envelope {
        version,
        action: wsa("Action"),
        message_id: wsa("MessageID"),
        to: wsa("To"),
        header,
        payload,
    })
}

/// The `action` parameter of a SOAP 1.2 content type, or a SOAP 1.1 `SOAPAction` value,
/// without quotes.
pub fn action_from_headers(
    content_type: Option<&str>,
    soap_action: Option<&str>,
) -> Option<String> {
    if let Some(sa) = soap_action {
        let sa = sa.trim().trim_matches('"');
        if !sa.is_empty() {
            return Some(sa.to_string());
        }
    }
    content_type?.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("action")).then(|| v.trim().trim_matches('"').to_string())
    })
}
