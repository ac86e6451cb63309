//! MTOM/XOP packaging (`multipart/related; type="application/xop+xml"`).

use std::collections::HashMap;

use bytes::Bytes;

use crate::{Error, SoapVersion};

/// A received multipart/related message.
#[derive(Debug, Default)]
pub struct Package {
    /// The root part (the envelope).
    pub root: Bytes,
    /// The other parts, by Content-ID without angle brackets.
    pub parts: HashMap<String, Bytes>,
}

/// Whether a content type is multipart/related.
pub fn is_multipart(content_type: &str) -> bool {
    content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("multipart/related")
}

/// A parameter of a content type (`boundary`, `start`…), unquoted.
pub fn content_type_param(content_type: &str, name: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Most parts in one package (an ITI-41 carries one per document; a package of thousands of
/// tiny parts is an attack on the part table, not a submission).
pub const MAX_PARTS: usize = 1000;

/// Splits a multipart/related body. The root is the `start` part, else the first.
pub async fn parse(content_type: &str, body: Bytes) -> Result<Package, Error> {
    let boundary =
        content_type_param(content_type, "boundary").ok_or(Error::Mtom("no boundary".into()))?;
    let start = content_type_param(content_type, "start").map(|s| strip_angles(&s));
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut pkg = Package::default();
    let mut first: Option<(String, Bytes)> = None;
    let mut count = 0usize;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| Error::Mtom(e.to_string()))?
    {
        count += 1;
        if count > MAX_PARTS {
            return Err(Error::Mtom(format!("more than {MAX_PARTS} parts")));
        }
        let cid = field
            .headers()
            .get("content-id")
            .and_then(|v| v.to_str().ok())
            .map(strip_angles)
            .unwrap_or_default();
        let data = field
            .bytes()
            .await
            .map_err(|e| Error::Mtom(e.to_string()))?;
        if first.is_none() && start.is_none() {
            first = Some((cid, data));
            continue;
        }
        if start.as_deref() == Some(cid.as_str()) {
            pkg.root = data;
        } else {
            pkg.parts.insert(cid, data);
        }
    }
    if let Some((_, data)) = first {
        pkg.root = data;
    }
    if pkg.root.is_empty() {
        return Err(Error::Mtom("no root part".into()));
    }
    Ok(pkg)
}

fn strip_angles(s: &str) -> String {
    s.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

/// An MTOM message to send: the envelope and its attachments.
#[derive(Debug)]
pub struct Outgoing {
    /// The `Content-Type` header value.
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
}

/// Packages an envelope (whose `xop:Include` hrefs are `cid:<id>`) with its parts.
pub fn package(
    version: SoapVersion,
    envelope: &str,
    parts: &[(String, String, Bytes)],
) -> Outgoing {
    let boundary = format!("MIMEBoundary_{}", uuid::Uuid::new_v4().simple());
    let root_id = format!("root.message.{}@fsemw", uuid::Uuid::new_v4().simple());
    let soap_type = version.content_type();
    let mut body =
        Vec::with_capacity(envelope.len() + parts.iter().map(|p| p.2.len() + 200).sum::<usize>());
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"{soap_type}\"\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <{root_id}>\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(envelope.as_bytes());
    for (cid, mime, data) in parts {
        body.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Type: {mime}\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <{cid}>\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
    }
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Outgoing {
        content_type: format!(
            "multipart/related; boundary=\"{boundary}\"; type=\"application/xop+xml\"; start=\"<{root_id}>\"; start-info=\"{soap_type}\""
        ),
        body,
    }
}
