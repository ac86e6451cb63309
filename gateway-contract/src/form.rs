//! A whole gateway form read at once (a held publication, a stored request): the
//! `requestBody` field and the `file` part, found by [`crate::form_scanner`] and taken as
//! slices of the body, never copied.

use bytes::Bytes;

use crate::form_scanner::{FormScanner, FormSink, PartHead};

/// The two parts of a gateway multipart request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Form {
    /// `requestBody`: a field (a part without `filename`), as text.
    pub request_body: Option<String>,
    /// `file`.
    pub file: Option<Bytes>,
}

/// Why a body is not a form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// The Content-Type is not `multipart/form-data` with a boundary.
    #[error("not a multipart request")]
    NotMultipart,
    /// The body does not follow RFC 7578.
    #[error("malformed multipart body: {0}")]
    Malformed(String),
}

/// The `boundary` of a `multipart/form-data` Content-Type.
pub fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| {
            let v = v.trim();
            v.strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .unwrap_or(v)
                .to_string()
        })
    })
}

/// Reads the parts of a whole body; the first `requestBody` field and `file` part count.
pub fn read_form(content_type: &str, body: &Bytes) -> Result<Form, FormError> {
    let boundary = boundary(content_type).ok_or(FormError::NotMultipart)?;
    let mut parts = Parts::default();
    let mut scanner = FormScanner::new(&boundary);
    scanner.feed(body, &mut parts);
    scanner.finish().map_err(FormError::Malformed)?;
    let slice = |(start, len): (u64, u64)| body.slice(start as usize..(start + len) as usize);
    Ok(Form {
        request_body: parts
            .request_body
            .map(|p| String::from_utf8_lossy(&slice(p)).into_owned()),
        file: parts.file.map(slice),
    })
}

/// One part of a multipart body, whatever its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Its `Content-Disposition` name.
    pub name: Option<String>,
    /// Whether it has a `filename`.
    pub has_filename: bool,
    /// Its `filename`, when it has one.
    pub file_name: Option<String>,
    /// Its own `Content-Type`.
    pub content_type: Option<String>,
    /// Its bytes (a slice of the body).
    pub body: Bytes,
}

/// Every part of a whole body, in order (what a gateway in front of the dispatcher reads).
pub fn read_parts(content_type: &str, body: &Bytes) -> Result<Vec<Part>, FormError> {
    let boundary = boundary(content_type).ok_or(FormError::NotMultipart)?;
    let mut all = AllParts::default();
    let mut scanner = FormScanner::new(&boundary);
    scanner.feed(body, &mut all);
    scanner.finish().map_err(FormError::Malformed)?;
    Ok(all
        .parts
        .into_iter()
        .map(|(mut part, (start, len))| {
            part.body = body.slice(start as usize..(start + len) as usize);
            part
        })
        .collect())
}

/// Every part met, with where its bytes lie.
#[derive(Default)]
struct AllParts {
    parts: Vec<(Part, (u64, u64))>,
}

impl FormSink for AllParts {
    fn part_start(&mut self, head: &PartHead<'_>, offset: u64) {
        let part = Part {
            name: head.name.map(str::to_string),
            has_filename: head.has_filename,
            file_name: head.file_name.map(str::to_string),
            content_type: head.content_type.map(str::to_string),
            body: Bytes::new(),
        };
        self.parts.push((part, (offset, 0)));
    }

    fn data(&mut self, bytes: &[u8]) {
        if let Some((_, (_, len))) = self.parts.last_mut() {
            *len += bytes.len() as u64;
        }
    }

    fn part_end(&mut self) {}
}

/// A gateway form of a `requestBody` (JSON text) and a PDF `file`: its Content-Type and body.
pub fn write_form(request_body: &str, pdf: &[u8]) -> (String, Bytes) {
    let boundary = format!("fsemw-{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::with_capacity(pdf.len() + 1024);
    body.extend_from_slice(format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"requestBody\"\r\nContent-Type: application/json\r\n\r\n{request_body}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"documento.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
    ).as_bytes());
    body.extend_from_slice(pdf);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (
        format!("multipart/form-data; boundary={boundary}"),
        Bytes::from(body),
    )
}

/// Where the parts that count lie: (offset, length).
#[derive(Default)]
struct Parts {
    request_body: Option<(u64, u64)>,
    file: Option<(u64, u64)>,
    current: Option<Which>,
}

#[derive(Clone, Copy)]
enum Which {
    RequestBody,
    File,
}

impl FormSink for Parts {
    fn part_start(&mut self, head: &PartHead<'_>, offset: u64) {
        self.current = match (head.name, head.has_filename) {
            (Some("file"), _) if self.file.is_none() => {
                self.file = Some((offset, 0));
                Some(Which::File)
            }
            (Some("requestBody"), false) if self.request_body.is_none() => {
                self.request_body = Some((offset, 0));
                Some(Which::RequestBody)
            }
            _ => None,
        };
    }

    fn data(&mut self, bytes: &[u8]) {
        let part = match self.current {
            Some(Which::File) => self.file.as_mut(),
            Some(Which::RequestBody) => self.request_body.as_mut(),
            None => None,
        };
        if let Some((_, len)) = part {
            *len += bytes.len() as u64;
        }
    }

    fn part_end(&mut self) {
        self.current = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "multipart/form-data; boundary=\"XyZ\"";

    #[test]
    fn both_parts_are_slices_of_the_body() {
        let body = Bytes::from_static(b"--XyZ\r\nContent-Disposition: form-data; name=\"requestBody\"\r\n\r\n{\"a\":1}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\r\n--XyZ--\r\n");
        let form = read_form(CT, &body).unwrap();
        assert_eq!(form.request_body.as_deref(), Some("{\"a\":1}"));
        assert_eq!(form.file.as_deref(), Some(&b"%PDF-1.7"[..]));
    }

    #[test]
    fn a_written_form_reads_back() {
        let (ct, body) = write_form("{\"mode\":\"ATTACHMENT\"}", b"%PDF-1.7 x");
        let form = read_form(&ct, &body).unwrap();
        assert_eq!(
            form.request_body.as_deref(),
            Some("{\"mode\":\"ATTACHMENT\"}")
        );
        assert_eq!(form.file.as_deref(), Some(&b"%PDF-1.7 x"[..]));
    }

    #[test]
    fn a_request_body_with_a_filename_is_a_file_not_the_field() {
        let body = Bytes::from_static(b"--XyZ\r\nContent-Disposition: form-data; name=\"requestBody\"; filename=\"x.json\"\r\n\r\n{}\r\n--XyZ--\r\n");
        assert_eq!(read_form(CT, &body).unwrap(), Form::default());
    }

    #[test]
    fn what_is_not_a_form_says_so() {
        assert_eq!(
            read_form("application/json", &Bytes::new()),
            Err(FormError::NotMultipart)
        );
        let cut = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc",
        );
        assert!(matches!(read_form(CT, &cut), Err(FormError::Malformed(_))));
    }
}
