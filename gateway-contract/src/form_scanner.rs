//! A streaming `multipart/form-data` scanner that reads each chunk where it lies.
//!
//! The forwarded body passes through [`FormScanner::feed`] chunk by chunk; the scanner
//! tells a [`FormSink`] where each part starts (its name and the offset of its first
//! byte in the body), hands it the part's bytes as slices of the chunks, and says where
//! the part ends. Nothing is copied but the part headers (at most [`MAX_PART_HEAD`]
//! bytes) — so a 5 MB file costs no memory here, and a body that does not follow
//! RFC 7578 is reported, never fatal: the bytes still go to the gateway, which judges them.
//!
//! The delimiter is `CRLF -- boundary`. A boundary cannot contain CR, so after a
//! mismatch the search restarts at the mismatching byte: delimiter bytes that were held
//! back at the end of a chunk are the delimiter's own prefix and are given back from it.

use memchr::memchr;

/// Largest header block of one part.
pub const MAX_PART_HEAD: usize = 16 << 10;

/// Most parts read in one form (the contract has two).
pub const MAX_PARTS: usize = 64;

/// What a form's parts are handed to.
pub trait FormSink {
    /// A part begins; `offset` is the position of its first body byte in the whole body.
    fn part_start(&mut self, head: &PartHead<'_>, offset: u64);
    /// Bytes of the current part, in order.
    fn data(&mut self, bytes: &[u8]);
    /// The current part is complete.
    fn part_end(&mut self);
}

/// What a part's headers say of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartHead<'a> {
    /// The `name` of its `Content-Disposition`, if any.
    pub name: Option<&'a str>,
    /// Whether it has a `filename` (a file part rather than a field).
    pub has_filename: bool,
    /// That `filename`.
    pub file_name: Option<&'a str>,
    /// Its own `Content-Type`, if it has one.
    pub content_type: Option<&'a str>,
}

/// Where the scanner is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Before the first delimiter.
    Preamble,
    /// After a delimiter: the transport padding, then either `--` or the part headers.
    Head,
    /// Inside a part's body.
    Body,
    /// After the closing delimiter.
    Epilogue,
    /// The form broke its framing; the rest is not read.
    Malformed(String),
}

/// The scanner of one body.
#[derive(Debug)]
pub struct FormScanner {
    delimiter: Vec<u8>,
    state: State,
    /// Delimiter bytes matched so far (possibly across chunks).
    matched: usize,
    /// Of `matched`, how many came from earlier chunks (not yet given to the sink).
    held: usize,
    head: Vec<u8>,
    /// Offset of the next byte to be fed.
    offset: u64,
    parts: usize,
}

// === impl FormScanner ===

impl FormScanner {
    /// A scanner for a form with this boundary.
    pub fn new(boundary: &str) -> Self {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        Self {
            delimiter,
            state: State::Preamble,
            // The first delimiter may open the body without a CRLF before it: start as if
            // one had been read.
            matched: 2,
            held: 2,
            head: Vec::new(),
            offset: 0,
            parts: 0,
        }
    }

    /// Reads the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8], sink: &mut impl FormSink) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let used = match self.state {
                State::Preamble | State::Body => self.scan(rest, sink),
                State::Head => self.read_head(rest, sink),
                State::Epilogue | State::Malformed(_) => rest.len(),
            };
            self.offset += used as u64;
            rest = &rest[used..];
        }
    }

    /// Whether the body was a complete form: `Err` says what was wrong.
    pub fn finish(&self) -> Result<(), String> {
        match &self.state {
            State::Epilogue => Ok(()),
            State::Malformed(why) => Err(why.clone()),
            State::Preamble => Err("no multipart delimiter in the body".into()),
            State::Head | State::Body => Err("the body ends before the closing delimiter".into()),
        }
    }

    /// Searches `bytes` for the delimiter; in a part, hands the bytes before it to the
    /// sink. Returns how many bytes were used.
    fn scan(&mut self, bytes: &[u8], sink: &mut impl FormSink) -> usize {
        let in_body = self.state == State::Body;
        let d = self.delimiter.len();
        // Where the current partial match began in this chunk (None: in an earlier one,
        // or no match under way).
        let mut start: Option<usize> = None;
        let mut i = 0;
        while i < bytes.len() {
            if self.matched == 0 {
                match memchr(b'\r', &bytes[i..]) {
                    None => break,
                    Some(k) => {
                        i += k + 1;
                        self.matched = 1;
                        start = Some(i - 1);
                    }
                }
            } else if bytes[i] == self.delimiter[self.matched] {
                self.matched += 1;
                i += 1;
                if self.matched == d {
                    if in_body {
                        // Bytes of this chunk before the delimiter; none if it began earlier.
                        sink.data(&bytes[..start.unwrap_or(0)]);
                        sink.part_end();
                    }
                    self.matched = 0;
                    self.held = 0;
                    self.state = State::Head;
                    self.head.clear();
                    return i;
                }
            } else {
                // Not a delimiter: what was held back from earlier chunks is data.
                if in_body && self.held > 0 {
                    sink.data(&self.delimiter[..self.held]);
                }
                self.held = 0;
                self.matched = 0;
                start = None;
            }
        }
        if in_body {
            // Bytes that may begin a delimiter are held back until the next chunk.
            let end = match start {
                _ if self.matched == 0 => bytes.len(),
                Some(s) => s,
                None => 0,
            };
            sink.data(&bytes[..end]);
        }
        self.held = self.matched;
        bytes.len()
    }

    /// Reads the bytes after a delimiter up to the end of the part headers (or `--`).
    fn read_head(&mut self, bytes: &[u8], sink: &mut impl FormSink) -> usize {
        for (i, &b) in bytes.iter().enumerate() {
            self.head.push(b);
            if self.head == b"--" {
                self.state = State::Epilogue;
                return i + 1;
            }
            if self.head.len() > MAX_PART_HEAD {
                self.state =
                    State::Malformed(format!("part headers longer than {MAX_PART_HEAD} bytes"));
                return i + 1;
            }
            if self.head.ends_with(b"\r\n\r\n") {
                let used = i + 1;
                self.parts += 1;
                if self.parts > MAX_PARTS {
                    self.state = State::Malformed(format!("more than {MAX_PARTS} parts"));
                    return used;
                }
                match part_head(&self.head) {
                    Ok(read) => {
                        let head = PartHead {
                            name: read.name.as_deref(),
                            has_filename: read.file_name.is_some(),
                            file_name: read.file_name.as_deref(),
                            content_type: read.content_type.as_deref(),
                        };
                        sink.part_start(&head, self.offset + used as u64);
                        self.state = State::Body;
                    }
                    Err(why) => self.state = State::Malformed(why),
                }
                return used;
            }
        }
        bytes.len()
    }
}

/// A part's header block as read.
#[derive(Default)]
struct ReadHead {
    name: Option<String>,
    file_name: Option<String>,
    content_type: Option<String>,
}

/// The `name` of a part from its header block (transport padding, CRLF, header lines,
/// CRLF CRLF), `None` for a part without a `Content-Disposition` name; whether it has a
/// `filename`; its `Content-Type`.
fn part_head(head: &[u8]) -> Result<ReadHead, String> {
    let text = std::str::from_utf8(head).map_err(|_| "part headers are not UTF-8".to_string())?;
    let Some((padding, headers)) = text.split_once("\r\n") else {
        return Err("no line end after the delimiter".into());
    };
    if !padding.chars().all(|c| c == ' ' || c == '\t') {
        return Err("unexpected characters after the delimiter".into());
    }
    let mut read = ReadHead::default();
    let mut disposition = false;
    for line in headers.split("\r\n") {
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        if field.trim().eq_ignore_ascii_case("content-disposition") && !disposition {
            disposition = true;
            read.name = disposition_param(value, "name");
            read.file_name = disposition_param(value, "filename");
        } else if field.trim().eq_ignore_ascii_case("content-type") && read.content_type.is_none() {
            read.content_type = Some(value.trim().to_string());
        }
    }
    Ok(read)
}

/// A parameter (`name`, `filename`) of a `Content-Disposition` value.
fn disposition_param(value: &str, param: &str) -> Option<String> {
    let mut params = value.split(';').skip(1);
    params.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case(param) {
            return None;
        }
        let v = v.trim();
        Some(
            v.strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .unwrap_or(v)
                .to_string(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records every event, to compare with what the body holds.
    #[derive(Default, Debug, PartialEq)]
    struct Parts(Vec<(Option<String>, u64, Vec<u8>, bool)>);

    impl FormSink for Parts {
        fn part_start(&mut self, head: &PartHead<'_>, offset: u64) {
            self.0
                .push((head.name.map(str::to_owned), offset, Vec::new(), false));
        }
        fn data(&mut self, bytes: &[u8]) {
            self.0
                .last_mut()
                .expect("a part")
                .2
                .extend_from_slice(bytes);
        }
        fn part_end(&mut self) {
            self.0.last_mut().expect("a part").3 = true;
        }
    }

    fn scan(body: &[u8], boundary: &str, chunk: usize) -> (Parts, Result<(), String>) {
        let mut scanner = FormScanner::new(boundary);
        let mut parts = Parts::default();
        for c in body.chunks(chunk) {
            scanner.feed(c, &mut parts);
        }
        let end = scanner.finish();
        (parts, end)
    }

    const FORM: &[u8] = b"--XyZ\r\nContent-Disposition: form-data; name=\"requestBody\"\r\n\r\n{\"a\":1}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n--X\r\r\n--XyY\r\n-\r\n--XyZ--\r\n";

    #[test]
    fn every_chunking_gives_the_same_parts_and_offsets() {
        let (whole, end) = scan(FORM, "XyZ", FORM.len());
        assert_eq!(end, Ok(()));
        assert_eq!(whole.0.len(), 2);
        assert_eq!(whole.0[0].0.as_deref(), Some("requestBody"));
        assert_eq!(whole.0[0].2, b"{\"a\":1}");
        assert_eq!(whole.0[1].0.as_deref(), Some("file"));
        // Near-delimiters inside the file are data.
        assert_eq!(whole.0[1].2, b"%PDF\r\n--X\r\r\n--XyY\r\n-");
        assert!(whole.0.iter().all(|p| p.3));
        for (name, offset, data, _) in &whole.0 {
            let at = *offset as usize;
            assert_eq!(&FORM[at..at + data.len()], &data[..], "{name:?}");
        }
        for chunk in 1..FORM.len() {
            let (parts, end) = scan(FORM, "XyZ", chunk);
            assert_eq!(end, Ok(()), "chunks of {chunk}");
            assert_eq!(parts, whole, "chunks of {chunk}");
        }
    }

    #[test]
    fn a_preamble_and_transport_padding_are_allowed() {
        let body = b"ignored preamble\r\n--b  \r\nContent-Disposition: form-data; name=file\r\n\r\nxyz\r\n--b--";
        let (parts, end) = scan(body, "b", 3);
        assert_eq!(end, Ok(()));
        assert_eq!(parts.0[0].0.as_deref(), Some("file"));
        assert_eq!(parts.0[0].2, b"xyz");
    }

    #[test]
    fn broken_forms_are_reported() {
        let (_, end) = scan(b"no delimiter at all", "b", 4);
        assert!(end.unwrap_err().contains("no multipart delimiter"));
        let (parts, end) = scan(
            b"--b\r\nContent-Disposition: form-data; name=f\r\n\r\nabc",
            "b",
            2,
        );
        assert!(end.unwrap_err().contains("before the closing"));
        assert_eq!(parts.0[0].2, b"abc");
        let (_, end) = scan(b"--bjunk\r\n\r\nx\r\n--b--", "b", 5);
        assert!(end.unwrap_err().contains("after the delimiter"));
        let long = [
            b"--b\r\nX: ".as_slice(),
            &vec![b'a'; MAX_PART_HEAD],
            b"\r\n\r\n",
        ]
        .concat();
        let (_, end) = scan(&long, "b", 1000);
        assert!(end.unwrap_err().contains("part headers longer"));
        let many: Vec<u8> = (0..=MAX_PARTS)
            .flat_map(|_| b"--b\r\n\r\nx\r\n".to_vec())
            .chain(b"--b--".to_vec())
            .collect();
        let (parts, end) = scan(&many, "b", 64);
        assert!(end.unwrap_err().contains("more than"));
        assert_eq!(parts.0.len(), MAX_PARTS);
    }
}
