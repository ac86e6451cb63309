//! CDA extraction from a PDF.
//!
//! ATTACHMENT: catalog → `/Names` → `/EmbeddedFiles` name tree (flat `/Names`
//! or `/Kids`), the entry whose key or filespec `/F` is exactly `cda.xml`, its
//! `/EF /F` stream. RESOURCE: catalog → `/Names` → `/XFAResources` → the
//! `datasets` stream, whose `ClinicalDocument` element is the CDA. Without a
//! mode, RESOURCE is tried first, then ATTACHMENT.

use lopdf::{Dictionary, Document, Object};

use super::CdaError;

/// Where the CDA is injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum ExtractionMode {
    /// Embedded file `cda.xml`.
    #[serde(rename = "ATTACHMENT")]
    Attachment,
    /// XFA `datasets` resource.
    #[serde(rename = "RESOURCE")]
    Resource,
}

/// Largest decompressed stream read (a CDA is far smaller).
const MAX_STREAM: usize = 64 << 20;

/// Extracts the CDA text; `mode = None` tries RESOURCE then ATTACHMENT.
pub fn extract_cda(pdf: &[u8], mode: Option<ExtractionMode>) -> Result<String, CdaError> {
    let doc = Document::load_mem(pdf).map_err(|e| CdaError::Pdf(e.to_string()))?;
    let names = names_dictionary(&doc).ok_or(CdaError::NotFound("no /Names in the catalog"))?;
    match mode {
        Some(ExtractionMode::Attachment) => attachment(&doc, names),
        Some(ExtractionMode::Resource) => resource(&doc, names),
        None => resource(&doc, names).or_else(|_| attachment(&doc, names)),
    }
}

fn names_dictionary(doc: &Document) -> Option<&Dictionary> {
    let catalog = doc.catalog().ok()?;
    deref(doc, catalog.get(b"Names").ok()?)?.as_dict().ok()
}

fn deref<'a>(doc: &'a Document, o: &'a Object) -> Option<&'a Object> {
    doc.dereference(o).ok().map(|(_, o)| o)
}

/// The FHIR bundle of a PDF, as the dispatcher finds it (`AbstractCTL.extractFHIR` @
/// de019846): the embedded file `bundle.json` (`fhir.attachment.name`), or the first
/// balanced `{…}` of the PDF's text; without a mode, the text first.
pub fn extract_fhir(pdf: &[u8], mode: Option<ExtractionMode>) -> Result<String, CdaError> {
    let doc = Document::load_mem(pdf).map_err(|e| CdaError::Pdf(e.to_string()))?;
    let in_text = || {
        let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
        let text = doc.extract_text(&pages).unwrap_or_default();
        crate::fhir::first_bundle_in_text(&text)
            .map(str::to_string)
            .ok_or(CdaError::NotFound("no bundle in the PDF's text"))
    };
    let attached = || {
        let names = names_dictionary(&doc).ok_or(CdaError::NotFound("no /Names in the catalog"))?;
        let bytes = embedded(&doc, names, BUNDLE_FILE)?;
        String::from_utf8(bytes).map_err(|e| CdaError::Xml(e.to_string()))
    };
    match mode {
        Some(ExtractionMode::Attachment) => attached(),
        Some(ExtractionMode::Resource) => in_text(),
        None => in_text().or_else(|_| attached()),
    }
}

/// The name the dispatcher looks for a bundle under.
const BUNDLE_FILE: &[u8] = b"bundle.json";

fn attachment(doc: &Document, names: &Dictionary) -> Result<String, CdaError> {
    decode_xml_text(&embedded(doc, names, b"cda.xml")?)
}

/// The bytes of the embedded file `name`.
fn embedded(doc: &Document, names: &Dictionary, name: &[u8]) -> Result<Vec<u8>, CdaError> {
    let tree = names
        .get(b"EmbeddedFiles")
        .ok()
        .and_then(|o| deref(doc, o))
        .and_then(|o| o.as_dict().ok())
        .ok_or(CdaError::NotFound("no /EmbeddedFiles"))?;
    let spec =
        find_in_name_tree(doc, tree, name, 0).ok_or(CdaError::NotFound("no such embedded file"))?;
    let stream = spec
        .get(b"EF")
        .ok()
        .and_then(|o| deref(doc, o))
        .and_then(|o| o.as_dict().ok())
        .and_then(|ef| ef.get(b"F").ok())
        .and_then(|o| deref(doc, o))
        .and_then(|o| o.as_stream().ok())
        .ok_or(CdaError::NotFound("embedded file without /EF /F stream"))?;
    stream_bytes(stream)
}

/// Walks a name tree for the file specification of `name`.
fn find_in_name_tree<'a>(
    doc: &'a Document,
    node: &'a Dictionary,
    name: &[u8],
    depth: u8,
) -> Option<&'a Dictionary> {
    if depth > 8 {
        return None;
    }
    if let Some(arr) = node
        .get(b"Names")
        .ok()
        .and_then(|o| deref(doc, o))
        .and_then(|o| o.as_array().ok())
    {
        for pair in arr.chunks(2) {
            let [key, value] = pair else { continue };
            let spec = deref(doc, value).and_then(|o| o.as_dict().ok());
            let key_is_cda = key.as_str().map(|k| k == name).unwrap_or(false);
            let f_is_cda = spec
                .and_then(|d| d.get(b"F").ok())
                .and_then(|o| o.as_str().ok())
                .map(|f| f == name)
                .unwrap_or(false);
            if key_is_cda || f_is_cda {
                return spec;
            }
        }
    }
    let kids = node
        .get(b"Kids")
        .ok()
        .and_then(|o| deref(doc, o))
        .and_then(|o| o.as_array().ok())?;
    kids.iter()
        .filter_map(|k| deref(doc, k).and_then(|o| o.as_dict().ok()))
        .find_map(|kid| find_in_name_tree(doc, kid, name, depth + 1))
}

fn resource(doc: &Document, names: &Dictionary) -> Result<String, CdaError> {
    let xfa = names
        .get(b"XFAResources")
        .ok()
        .and_then(|o| deref(doc, o))
        .and_then(|o| o.as_dict().ok())
        .ok_or(CdaError::NotFound("no /XFAResources"))?;
    let arr = xfa
        .get(b"Names")
        .ok()
        .and_then(|o| deref(doc, o))
        .and_then(|o| o.as_array().ok())
        .ok_or(CdaError::NotFound("/XFAResources has no /Names"))?;
    let stream = arr
        .chunks(2)
        .find(|p| p.len() == 2 && p[0].as_str().map(|k| k == b"datasets").unwrap_or(false))
        .and_then(|p| deref(doc, &p[1]))
        .and_then(|o| o.as_stream().ok())
        .ok_or(CdaError::NotFound("no datasets resource"))?;
    let text = decode_xml_text(&stream_bytes(stream)?)?;
    let start = text
        .find("<ClinicalDocument")
        .ok_or(CdaError::NotFound("datasets has no ClinicalDocument"))?;
    let end_tag = "</ClinicalDocument>";
    let end = text
        .rfind(end_tag)
        .ok_or(CdaError::NotFound("ClinicalDocument is not closed"))?;
    if end < start {
        return Err(CdaError::NotFound("ClinicalDocument is not closed"));
    }
    Ok(text[start..end + end_tag.len()].to_string())
}

fn stream_bytes(stream: &lopdf::Stream) -> Result<Vec<u8>, CdaError> {
    if stream.dict.get(b"Filter").is_ok() {
        stream
            .decompressed_content_with_limit(MAX_STREAM)
            .map_err(|e| CdaError::Pdf(e.to_string()))
    } else {
        Ok(stream.content.clone())
    }
}

/// Decodes XML bytes: UTF-16 by byte-order mark or by its first `<`, else UTF-8.
pub fn decode_xml_text(bytes: &[u8]) -> Result<String, CdaError> {
    let utf16 = |b: &[u8], le: bool| {
        let units: Vec<u16> = b
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16(&units).map_err(|e| CdaError::Xml(e.to_string()))
    };
    match bytes {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, true),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, false),
        [b'<', 0, ..] => utf16(bytes, true),
        [0, b'<', ..] => utf16(bytes, false),
        [0xEF, 0xBB, 0xBF, rest @ ..] => {
            String::from_utf8(rest.to_vec()).map_err(|e| CdaError::Xml(e.to_string()))
        }
        _ => decode_declared(bytes),
    }
}

/// Without a byte-order mark, the charset the XML declaration names, as the dispatcher's
/// StAX reader takes it (`PDFUtility.detectCharsetAndExtract` @ de019846, review S20):
/// UTF-8 unless it says ISO-8859-1 or windows-1252. Like Java's `new String(bytes,
/// charset)` it never fails: a byte that is not of the charset becomes U+FFFD.
fn decode_declared(bytes: &[u8]) -> Result<String, CdaError> {
    let utf8 = || Ok(String::from_utf8_lossy(bytes).into_owned());
    let Some(encoding) = declared_encoding(bytes) else {
        return utf8();
    };
    match encoding.to_ascii_uppercase().replace('_', "-").as_str() {
        "ISO-8859-1" | "ISO8859-1" | "LATIN1" | "L1" => {
            Ok(bytes.iter().map(|&b| char::from(b)).collect())
        }
        "WINDOWS-1252" | "CP1252" => Ok(bytes.iter().map(|&b| cp1252(b)).collect()),
        _ => utf8(),
    }
}

/// The `encoding` of a leading `<?xml …?>` declaration.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(256)];
    let text: String = head.iter().map(|&b| char::from(b)).collect();
    let decl = text.strip_prefix("<?xml")?;
    let decl = &decl[..decl.find("?>")?];
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].to_string())
}

/// windows-1252: Latin-1 but for the printable characters it puts in 0x80–0x9F.
fn cp1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

#[cfg(test)]
mod charset_tests {
    use super::*;

    #[test]
    fn the_declaration_names_the_charset() {
        let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>citt\xe0</a>";
        assert_eq!(
            decode_xml_text(latin1).unwrap(),
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>citt\u{e0}</a>"
        );
        let cp = b"<?xml version='1.0' encoding='windows-1252'?><a>\x80</a>";
        assert!(decode_xml_text(cp).unwrap().ends_with("<a>€</a>"));
        // Undeclared: UTF-8, and a Latin-1 byte becomes U+FFFD.
        assert_eq!(
            decode_xml_text(b"<a>citt\xe0</a>").unwrap(),
            "<a>citt\u{fffd}</a>"
        );
        assert_eq!(
            decode_xml_text("<a>città</a>".as_bytes()).unwrap(),
            "<a>città</a>"
        );
    }
}
