//! CDA extraction from a PDF.
//!
//! As the dispatcher's `PDFUtility` @ de019846 finds it (review S20).
//!
//! ATTACHMENT (PDFBox): catalog → `/Names` → `/EmbeddedFiles`: the root's own `/Names`,
//! or else each kid's own `/Names` (one level); the entries keyed by their lower-cased
//! names in a Java `HashMap` (a later same-named entry replaces an earlier one), walked
//! in its order for the first whose name or `getFilename()` (`/UF`, `/DOS`, `/Mac`,
//! `/Unix`, `/F`) is exactly `cda.xml`; an entry without an embedded file spoils them
//! all (PDFBox throws reading it, and the dispatcher keeps none). RESOURCE (iText):
//! catalog → `/Names` → `/XFAResources`, an indirect dictionary whose `/Names` array's
//! first element is the string `datasets` and second an indirect stream, read as UTF-8;
//! its `ClinicalDocument` element is the CDA (Jsoup re-serialises it there: not
//! reproduced, the element's text is taken as it is). Without a mode, RESOURCE is tried
//! first, then ATTACHMENT.

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

/// The bytes of the embedded file `name` (`PDFUtility.extractContentFromAttachments`).
fn embedded(doc: &Document, names: &Dictionary, name: &[u8]) -> Result<Vec<u8>, CdaError> {
    let tree = names
        .get(b"EmbeddedFiles")
        .ok()
        .and_then(|o| deref(doc, o))
        .and_then(|o| o.as_dict().ok())
        .ok_or(CdaError::NotFound("no /EmbeddedFiles"))?;
    let entries =
        attachments(doc, tree).ok_or(CdaError::NotFound("an embedded file cannot be read"))?;
    let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
    let name = String::from_utf8_lossy(name);
    crate::java::hash_order(&keys)
        .into_iter()
        .filter_map(|k| entries.iter().find(|e| e.key == k))
        .find(|e| e.name == name || e.file_name.as_deref() == Some(&*name))
        .map(|e| e.content.clone())
        .ok_or(CdaError::NotFound("no such embedded file"))
}

/// One embedded file as `PDFUtility.createAttachmentDTO` reads it.
struct Attachment {
    /// The map's key: the name, lower-cased.
    key: String,
    name: String,
    file_name: Option<String>,
    content: Vec<u8>,
}

/// The entries `extractAttachments` keeps; `None` when one cannot be read (then none is).
fn attachments(doc: &Document, tree: &Dictionary) -> Option<Vec<Attachment>> {
    let pairs: Vec<&[Object]> = match own_names(doc, tree) {
        Some(names) => names.chunks(2).collect(),
        None => array(doc, tree, b"Kids")
            .iter()
            .filter_map(|k| deref(doc, k).and_then(|o| o.as_dict().ok()))
            .filter_map(|kid| own_names(doc, kid))
            .flat_map(|names| names.chunks(2))
            .collect(),
    };
    let mut out: Vec<Attachment> = Vec::new();
    for pair in pairs {
        let [key, value] = pair else { continue };
        let name = String::from_utf8_lossy(key.as_str().ok()?).into_owned();
        let spec = deref(doc, value).and_then(|o| o.as_dict().ok())?;
        let entry = Attachment {
            key: name.to_lowercase(),
            file_name: file_name(spec),
            content: stream_bytes(embedded_file(doc, spec)?).ok()?,
            name,
        };
        out.retain(|e| e.key != entry.key);
        out.push(entry);
    }
    Some(out)
}

fn own_names<'a>(doc: &'a Document, node: &'a Dictionary) -> Option<&'a [Object]> {
    node.get(b"Names")
        .ok()
        .and_then(|o| deref(doc, o))
        .and_then(|o| o.as_array().ok())
        .map(Vec::as_slice)
}

fn array<'a>(doc: &'a Document, node: &'a Dictionary, key: &[u8]) -> &'a [Object] {
    node.get(key)
        .ok()
        .and_then(|o| deref(doc, o))
        .and_then(|o| o.as_array().ok())
        .map_or(&[], Vec::as_slice)
}

/// `PDComplexFileSpecification.getFilename()`: `/UF`, then `/DOS`, `/Mac`, `/Unix`, `/F`.
fn file_name(spec: &Dictionary) -> Option<String> {
    [b"UF".as_slice(), b"DOS", b"Mac", b"Unix", b"F"]
        .iter()
        .find_map(|k| spec.get(k).ok()?.as_str().ok())
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

fn embedded_file<'a>(doc: &'a Document, spec: &'a Dictionary) -> Option<&'a lopdf::Stream> {
    spec.get(b"EF")
        .ok()
        .and_then(|o| deref(doc, o))
        .and_then(|o| o.as_dict().ok())
        .and_then(|ef| ef.get(b"F").ok())
        .and_then(|o| deref(doc, o))
        .and_then(|o| o.as_stream().ok())
}

fn resource(doc: &Document, names: &Dictionary) -> Result<String, CdaError> {
    // `getAsIndirectObject`: a direct dictionary is not found.
    let Ok(Object::Reference(id)) = names.get(b"XFAResources") else {
        return Err(CdaError::NotFound("no indirect /XFAResources"));
    };
    let xfa = doc
        .get_object(*id)
        .ok()
        .and_then(|o| o.as_dict().ok())
        .ok_or(CdaError::NotFound("/XFAResources is not a dictionary"))?;
    let arr = array(doc, xfa, b"Names");
    let (Some(first), Some(second)) = (arr.first(), arr.get(1)) else {
        return Err(CdaError::NotFound(
            "/XFAResources has fewer than two /Names",
        ));
    };
    let first = deref(doc, first).and_then(|o| o.as_str().ok());
    if first != Some(b"datasets".as_slice()) {
        return Err(CdaError::NotFound(
            "the first /XFAResources name is not datasets",
        ));
    }
    let Object::Reference(stream_id) = second else {
        return Err(CdaError::NotFound("datasets is not an indirect stream"));
    };
    let stream = doc
        .get_object(*stream_id)
        .ok()
        .and_then(|o| o.as_stream().ok())
        .ok_or(CdaError::NotFound("datasets is not a stream"))?;
    // `new String(bytes, UTF_8)`: the declaration is not read here.
    let text = String::from_utf8_lossy(&stream_bytes(stream)?).into_owned();
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

#[cfg(test)]
mod extraction_tests {
    use lopdf::{Object, Stream, dictionary};

    use super::*;

    const CDA: &[u8] =
        b"<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><id root=\"1\"/></ClinicalDocument>";

    /// A one-page PDF whose `/Names` dictionary `names` builds (given the document, to add
    /// objects to).
    fn pdf(names: impl FnOnce(&mut Document) -> Dictionary) -> Vec<u8> {
        let mut doc = Document::with_version("1.7");
        let pages = doc.new_object_id();
        let page = doc.add_object(dictionary! {"Type" => "Page", "Parent" => pages});
        doc.objects.insert(
            pages,
            Object::Dictionary(
                dictionary! {"Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1},
            ),
        );
        let names = names(&mut doc);
        let catalog =
            doc.add_object(dictionary! {"Type" => "Catalog", "Pages" => pages, "Names" => names});
        doc.trailer.set("Root", catalog);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    /// A file specification with `keys` (`UF`, `F`…) and `content` embedded (or none).
    fn spec(doc: &mut Document, keys: &[(&str, &str)], content: Option<&[u8]>) -> Object {
        let mut d = dictionary! {"Type" => "Filespec"};
        for (k, v) in keys {
            d.set(*k, Object::string_literal(*v));
        }
        if let Some(c) = content {
            let file = doc.add_object(Stream::new(
                dictionary! {"Type" => "EmbeddedFile"},
                c.to_vec(),
            ));
            d.set("EF", dictionary! {"F" => file});
        }
        doc.add_object(d).into()
    }

    fn attached(pdf: &[u8]) -> Result<String, CdaError> {
        extract_cda(pdf, Some(ExtractionMode::Attachment))
    }

    #[test]
    fn attachments_are_found_as_pdfbox_lists_them() {
        // By `getFilename()`: `/UF` before `/F`.
        let by_uf = pdf(|d| {
            let s = spec(d, &[("UF", "cda.xml"), ("F", "x.xml")], Some(CDA));
            dictionary! {"EmbeddedFiles" => dictionary! {"Names" => vec![Object::string_literal("documento"), s]}}
        });
        assert!(attached(&by_uf).is_ok());
        let f_behind_uf = pdf(|d| {
            let s = spec(d, &[("UF", "x.xml"), ("F", "cda.xml")], Some(CDA));
            dictionary! {"EmbeddedFiles" => dictionary! {"Names" => vec![Object::string_literal("documento"), s]}}
        });
        assert!(
            attached(&f_behind_uf).is_err(),
            "/F is read only without /UF"
        );
        // One level of kids, not two.
        let one_level = pdf(|d| {
            let s = spec(d, &[("F", "cda.xml")], Some(CDA));
            let kid =
                d.add_object(dictionary! {"Names" => vec![Object::string_literal("cda.xml"), s]});
            dictionary! {"EmbeddedFiles" => dictionary! {"Kids" => vec![kid.into()]}}
        });
        assert!(attached(&one_level).is_ok());
        let two_levels = pdf(|d| {
            let s = spec(d, &[("F", "cda.xml")], Some(CDA));
            let leaf =
                d.add_object(dictionary! {"Names" => vec![Object::string_literal("cda.xml"), s]});
            let mid = d.add_object(dictionary! {"Kids" => vec![leaf.into()]});
            dictionary! {"EmbeddedFiles" => dictionary! {"Kids" => vec![mid.into()]}}
        });
        assert!(attached(&two_levels).is_err(), "kids of kids are not read");
        // An entry without an embedded file spoils the others.
        let spoiled = pdf(|d| {
            let good = spec(d, &[("F", "cda.xml")], Some(CDA));
            let bad = spec(d, &[("F", "note.txt")], None);
            dictionary! {"EmbeddedFiles" => dictionary! {"Names" => vec![
                Object::string_literal("cda.xml"), good, Object::string_literal("note.txt"), bad,
            ]}}
        });
        assert!(attached(&spoiled).is_err());
    }

    #[test]
    fn the_resource_is_the_first_names_pair_and_indirect() {
        let with = |first: &str, indirect: bool| {
            pdf(|d| {
                let stream = d.add_object(Stream::new(dictionary! {}, CDA.to_vec()));
                let other = d.add_object(Stream::new(dictionary! {}, b"<x/>".to_vec()));
                let names = match first {
                    "datasets" => vec![
                        Object::string_literal("datasets"),
                        stream.into(),
                        Object::string_literal("template"),
                        other.into(),
                    ],
                    _ => vec![
                        Object::string_literal("template"),
                        other.into(),
                        Object::string_literal("datasets"),
                        stream.into(),
                    ],
                };
                let xfa = dictionary! {"Names" => names};
                let xfa = if indirect {
                    d.add_object(xfa).into()
                } else {
                    Object::Dictionary(xfa)
                };
                dictionary! {"XFAResources" => xfa}
            })
        };
        let resource = |pdf: &[u8]| extract_cda(pdf, Some(ExtractionMode::Resource));
        assert_eq!(resource(&with("datasets", true)).unwrap().as_bytes(), CDA);
        assert!(
            resource(&with("template", true)).is_err(),
            "datasets must come first"
        );
        assert!(
            resource(&with("datasets", false)).is_err(),
            "a direct dictionary is not found"
        );
    }
}
