//! The streaming multipart scanner of forwarded bodies (`gateway_contract::form_scanner`).
//!
//! Input: byte 0 picks the boundary's length, byte 1 the chunk size; the boundary is taken
//! from the next bytes and the rest is the body. Checks, beyond not panicking: every part's
//! bytes are exactly the body's bytes at the offset the scanner gave, and feeding the body
//! whole or in chunks gives the same parts and the same verdict.
#![no_main]

use libfuzzer_sys::fuzz_target;
use gateway_contract::form_scanner::{FormScanner, FormSink, PartHead};

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
            .expect("data only inside a part")
            .2
            .extend_from_slice(bytes);
    }
    fn part_end(&mut self) {
        self.0.last_mut().expect("an end only inside a part").3 = true;
    }
}

fn scan(boundary: &str, body: &[u8], chunk: usize) -> (Parts, Result<(), String>) {
    let mut scanner = FormScanner::new(boundary);
    let mut parts = Parts::default();
    for c in body.chunks(chunk.max(1)) {
        scanner.feed(c, &mut parts);
    }
    (parts, scanner.finish())
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let blen = 1 + usize::from(data[0] % 70);
    let chunk = 1 + usize::from(data[1]);
    let rest = &data[2..];
    if rest.len() < blen {
        return;
    }
    // A boundary as RFC 2046 allows: no CR, no LF (mapped away).
    let boundary: String = rest[..blen]
        .iter()
        .map(|b| match b {
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'-' | b'_' => *b as char,
            _ => 'x',
        })
        .collect();
    let body = &rest[blen..];
    let (whole, verdict) = scan(&boundary, body, body.len());
    for (name, offset, bytes, _) in &whole.0 {
        let at = usize::try_from(*offset).expect("offset fits");
        assert!(
            at + bytes.len() <= body.len(),
            "part {name:?} beyond the body"
        );
        assert_eq!(&body[at..at + bytes.len()], &bytes[..], "part {name:?}");
    }
    let (chunked, chunked_verdict) = scan(&boundary, body, chunk);
    assert_eq!(whole, chunked, "chunks of {chunk}");
    assert_eq!(verdict, chunked_verdict);
});
