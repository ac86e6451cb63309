//! A PDF's signatures as the dispatcher finds them, with PDFBox 2.0.26 (`SignerUtility`
//! @ de019846): whether the PDF is signed (`isSigned`: any signature field of the form's
//! field tree with a signature dictionary) and, for each signature field at the top of
//! the form (`validate` walks `acroForm.getFields()`), the CMS blob and the signed bytes
//! read from the file through the signature's `/ByteRange` as PDFBox reads them. The
//! CMS itself is judged by the simulator.

use lopdf::{Dictionary, Document, Object};

use super::CdaError;

/// One top-level signature field's signature, read from the file's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRange {
    /// The CMS blob: the hex string between the byte range's two parts, decoded.
    pub contents: Vec<u8>,
    /// The bytes the byte range covers, as far as the file goes.
    pub signed_content: Vec<u8>,
}

/// Why a top-level signature field cannot be read (PDFBox throws, and the whole check fails).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// The field has no signature dictionary (`getSignature()` is null).
    #[error("signature field without a signature")]
    NoSignature,
    /// The `/ByteRange` is missing or not four numbers.
    #[error("no usable /ByteRange")]
    ByteRange,
    /// The bytes between the two parts are not a hex string.
    #[error("the signature's contents are not hex")]
    Hex,
    /// No `/M` PDFBox can read as a date (`getSignDate()` is null, read before the
    /// verification).
    #[error("no signing date /M")]
    SignDate,
}

/// What `SignerUtility.validate` walks.
#[derive(Debug)]
pub enum TopLevel {
    /// No `/AcroForm` (or the PDF cannot be loaded): the check fails.
    NoForm,
    /// The form's top-level signature fields, in order.
    Fields(Vec<Result<SignedRange, RangeError>>),
}

/// Whether the PDF is signed as `SignerUtility.isSigned` sees it; `Err` when the PDF
/// cannot be loaded (the dispatcher's `BusinessException`).
pub fn is_signed(pdf: &[u8]) -> Result<bool, CdaError> {
    let doc = Document::load_mem(pdf).map_err(|e| CdaError::Pdf(e.to_string()))?;
    let cast = |what: &str| CdaError::Pdf(format!("{what} is not a dictionary"));
    // PDFBox casts `/AcroForm` and a signature field's `/V` to dictionaries: anything
    // else throws, which the dispatcher answers with 500.
    if let Ok(form) = doc.catalog().and_then(|c| c.get(b"AcroForm"))
        && deref(&doc, form).and_then(|f| f.as_dict().ok()).is_none()
    {
        return Err(cast("/AcroForm"));
    }
    let Some(fields) = form_fields(&doc) else {
        return Ok(false);
    };
    let (mut found, mut broken) = (false, false);
    for field in fields {
        walk(&doc, field, None, 0, &mut |d, ft| {
            if ft != Some(b"Sig".as_slice()) {
                return;
            }
            match d.get(b"V").ok().and_then(|v| deref(&doc, v)) {
                Some(Object::Dictionary(_)) => found = true,
                Some(Object::Null) | None => {}
                Some(_) => broken = true,
            }
        });
    }
    if broken {
        return Err(cast("a signature field's /V"));
    }
    Ok(found)
}

/// The form's top-level signature fields with their signed ranges.
pub fn top_level_signatures(pdf: &[u8]) -> TopLevel {
    let Ok(doc) = Document::load_mem(pdf) else {
        return TopLevel::NoForm;
    };
    let Some(fields) = form_fields(&doc) else {
        return TopLevel::NoForm;
    };
    let ranges = fields
        .into_iter()
        .filter(|f| is_terminal(&doc, f) && own_type(f) == Some(b"Sig".as_slice()))
        .map(|f| {
            let sig = signature_of(&doc, f).ok_or(RangeError::NoSignature)?;
            signed_range(&doc, sig, pdf)
        })
        .collect();
    TopLevel::Fields(ranges)
}

fn deref<'a>(doc: &'a Document, o: &'a Object) -> Option<&'a Object> {
    doc.dereference(o).ok().map(|(_, o)| o)
}

/// The `/Fields` of the catalog's `/AcroForm`; `None` without a form.
fn form_fields(doc: &Document) -> Option<Vec<&Dictionary>> {
    let catalog = doc.catalog().ok()?;
    let form = deref(doc, catalog.get(b"AcroForm").ok()?)?.as_dict().ok()?;
    let Some(fields) = form.get(b"Fields").ok().and_then(|f| deref(doc, f)) else {
        return Some(Vec::new());
    };
    let fields = fields.as_array().map(|a| a.as_slice()).unwrap_or_default();
    Some(
        fields
            .iter()
            .filter_map(|f| deref(doc, f)?.as_dict().ok())
            .collect(),
    )
}

fn own_type(field: &Dictionary) -> Option<&[u8]> {
    field.get(b"FT").ok()?.as_name().ok()
}

/// The field's kids that are fields (they have a `/T`); widgets are not.
fn field_kids<'a>(doc: &'a Document, field: &'a Dictionary) -> Vec<&'a Dictionary> {
    let Some(kids) = field.get(b"Kids").ok().and_then(|k| deref(doc, k)) else {
        return Vec::new();
    };
    kids.as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|k| deref(doc, k)?.as_dict().ok())
        .filter(|k| k.get(b"T").is_ok())
        .collect()
}

fn is_terminal(doc: &Document, field: &Dictionary) -> bool {
    field_kids(doc, field).is_empty()
}

/// Every terminal field under `field`, with its field type (inherited from its parents).
fn walk<'a>(
    doc: &'a Document,
    field: &'a Dictionary,
    inherited: Option<&'a [u8]>,
    depth: usize,
    visit: &mut dyn FnMut(&'a Dictionary, Option<&'a [u8]>),
) {
    let ft = own_type(field).or(inherited);
    let kids = field_kids(doc, field);
    if kids.is_empty() {
        visit(field, ft);
        return;
    }
    if depth < 16 {
        for kid in kids {
            walk(doc, kid, ft, depth + 1, visit);
        }
    }
}

fn signature_of<'a>(doc: &'a Document, field: &'a Dictionary) -> Option<&'a Dictionary> {
    deref(doc, field.get(b"V").ok()?)?.as_dict().ok()
}

/// `PDSignature.getContents(byte[])` and `getSignedContent(byte[])`: the contents are
/// read from the file between the two parts of the range (not from the dictionary), the
/// signed content is the range clamped to the file.
fn signed_range(doc: &Document, sig: &Dictionary, pdf: &[u8]) -> Result<SignedRange, RangeError> {
    let range: Vec<i64> = sig
        .get(b"ByteRange")
        .ok()
        .and_then(|r| deref(doc, r))
        .and_then(|r| r.as_array().ok())
        .map(|a| a.iter().filter_map(|n| n.as_i64().ok()).collect())
        .unwrap_or_default();
    let [a, b, c, d] = range[..] else {
        return Err(RangeError::ByteRange);
    };
    if !has_sign_date(sig) {
        return Err(RangeError::SignDate);
    }
    let clamp = |n: i64| {
        usize::try_from(n.max(0))
            .unwrap_or(usize::MAX)
            .min(pdf.len())
    };
    let begin = clamp(a.saturating_add(b).saturating_add(1));
    let end = clamp(c).max(begin);
    let contents = hex_contents(&pdf[begin..end])?;
    let mut signed_content = pdf[clamp(a)..clamp(a.saturating_add(b))].to_vec();
    signed_content.extend_from_slice(&pdf[clamp(c)..clamp(c.saturating_add(d))]);
    Ok(SignedRange {
        contents,
        signed_content,
    })
}

/// `/M` as PDFBox's `DateConverter` reads it, leniently: a string with a four-digit year
/// (after an optional `D:`).
fn has_sign_date(sig: &Dictionary) -> bool {
    let Ok(m) = sig.get(b"M").and_then(Object::as_str) else {
        return false;
    };
    let m = m.strip_prefix(b"D:").unwrap_or(m);
    m.len() >= 4 && m[..4].iter().all(u8::is_ascii_digit)
}

/// The gap's bytes as PDFBox decodes them: read in 1024-byte blocks, a block's leading
/// `<` or `(` dropped and, independently, its trailing `>` or `)`; then the whole,
/// trimmed as Java trims (every byte up to a space), taken as hex (an odd count padded
/// with `0`; anything else refused).
fn hex_contents(gap: &[u8]) -> Result<Vec<u8>, RangeError> {
    let mut text = Vec::with_capacity(gap.len());
    for block in gap.chunks(1024) {
        let block = match block.first() {
            Some(b'<' | b'(') => &block[1..],
            _ => block,
        };
        let block = match block.last() {
            Some(b'>' | b')') => &block[..block.len() - 1],
            _ => block,
        };
        text.extend_from_slice(block);
    }
    let start = text.iter().position(|&b| b > b' ').unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|&b| b > b' ')
        .map_or(start, |i| i + 1);
    let trimmed = &text[start..end];
    let mut digits = trimmed.to_vec();
    if digits.len() % 2 == 1 {
        digits.push(b'0');
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or(RangeError::Hex)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_are_decoded_as_pdfbox_decodes_them() {
        assert_eq!(hex_contents(b"3082ab>"), Ok(vec![0x30, 0x82, 0xab]));
        assert_eq!(hex_contents(b"abc>"), Ok(vec![0xab, 0xc0]), "odd: padded");
        assert_eq!(
            hex_contents(b"30 82>"),
            Err(RangeError::Hex),
            "a space inside"
        );
        assert_eq!(hex_contents(b""), Ok(Vec::new()));
    }
}
