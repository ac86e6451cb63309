//! `lcm:SubmitObjectsRequest` (ITI-42, ITI-57) and
//! `xdsb:ProvideAndRegisterDocumentSetRequest` (ITI-41).

use base64::Engine;
use roxmltree::Node;

use super::{child, children, expect};
use crate::Error;
use crate::ns::{LCM, RIM, XDSB, XOP};
use crate::rim::{RegistryObject, parse_object_list};

/// The objects of a SubmitObjectsRequest.
pub fn parse_submit(body: Node<'_, '_>) -> Result<Vec<RegistryObject>, Error> {
    let req = expect(body, LCM, "SubmitObjectsRequest")?;
    let list = child(req, RIM, "RegistryObjectList")
        .ok_or(Error::MissingElement("rim:RegistryObjectList"))?;
    parse_object_list(list)
}

/// Where a provided document's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentContent {
    /// An MTOM part, by Content-ID (without angle brackets).
    Attachment(String),
    /// Inline base64, decoded.
    Inline(Vec<u8>),
}

/// One `xdsb:Document`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvidedDocument {
    /// The ExtrinsicObject id it belongs to.
    pub id: String,
    /// Its bytes or where to find them.
    pub content: DocumentContent,
}

/// An ITI-41 request: metadata and documents.
#[derive(Debug, Clone)]
pub struct ProvideAndRegister {
    /// The SubmitObjectsRequest's objects.
    pub objects: Vec<RegistryObject>,
    /// The documents.
    pub documents: Vec<ProvidedDocument>,
}

/// Parses a ProvideAndRegisterDocumentSetRequest.
pub fn parse_provide_and_register(body: Node<'_, '_>) -> Result<ProvideAndRegister, Error> {
    let req = expect(body, XDSB, "ProvideAndRegisterDocumentSetRequest")?;
    let submit = child(req, LCM, "SubmitObjectsRequest")
        .ok_or(Error::MissingElement("lcm:SubmitObjectsRequest"))?;
    let objects = parse_submit(submit)?;
    let mut documents = Vec::new();
    for d in children(req, XDSB, "Document") {
        let id = d
            .attribute("id")
            .ok_or_else(|| Error::MissingAttribute {
                element: "Document".into(),
                attribute: "id".into(),
            })?
            .to_string();
        let content = match child(d, XOP, "Include") {
            Some(inc) => {
                let href = inc.attribute("href").unwrap_or_default();
                DocumentContent::Attachment(content_id_of_href(href))
            }
            None => {
                let text: String = d
                    .text()
                    .unwrap_or_default()
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                DocumentContent::Inline(
                    base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .map_err(|_| Error::Base64(id.clone()))?,
                )
            }
        };
        documents.push(ProvidedDocument { id, content });
    }
    Ok(ProvideAndRegister { objects, documents })
}

/// `cid:abc%40x` → `abc@x`.
pub fn content_id_of_href(href: &str) -> String {
    let raw = href.strip_prefix("cid:").unwrap_or(href);
    percent_decode(raw)
}

/// Decodes `%XX` escapes (invalid ones are kept as they are).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(hex) = std::str::from_utf8(&bytes[i + 1..i + 3])
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
