//! Reading ASN.1 BER/DER, as much as a CMS signature needs: one-byte tags, definite
//! lengths, and the indefinite lengths BER allows for constructed values.

/// One value: its tag byte, its content octets, and the whole encoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    /// The identifier octet (class, constructed bit, number below 31).
    pub(crate) tag: u8,
    /// The contents (for an indefinite length, without the end-of-contents octets).
    pub(crate) body: &'a [u8],
    /// Identifier, length and contents.
    pub(crate) whole: &'a [u8],
}

/// The encoding is not BER this reader understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed ASN.1 at byte {0}")]
pub(crate) struct Malformed(pub(crate) usize);

/// Universal tags and context-specific ones the CMS reader matches.
pub(crate) mod tag {
    pub(crate) const INTEGER: u8 = 0x02;
    pub(crate) const OCTET_STRING: u8 = 0x04;
    pub(crate) const OID: u8 = 0x06;
    pub(crate) const UTC_TIME: u8 = 0x17;
    pub(crate) const GENERALIZED_TIME: u8 = 0x18;
    pub(crate) const SEQUENCE: u8 = 0x30;
    pub(crate) const SET: u8 = 0x31;
    /// `[0]` constructed.
    pub(crate) const CONTEXT_0: u8 = 0xa0;
    /// `[1]` constructed.
    pub(crate) const CONTEXT_1: u8 = 0xa1;
    /// `[0]` primitive (a SubjectKeyIdentifier signer id).
    pub(crate) const CONTEXT_0_PRIMITIVE: u8 = 0x80;
}

/// The first value of `input` and what follows it.
pub(crate) fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), Malformed> {
    read_at(input, 0, 0)
}

fn read_at(input: &[u8], offset: usize, depth: usize) -> Result<(Tlv<'_>, &[u8]), Malformed> {
    let bad = || Malformed(offset);
    let (&tag, rest) = input.split_first().ok_or_else(bad)?;
    if tag & 0x1f == 0x1f || depth > 64 {
        return Err(bad());
    }
    let (&first, rest) = rest.split_first().ok_or_else(bad)?;
    if first == 0x80 {
        return indefinite(input, tag, rest, offset, depth);
    }
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n > 4 || rest.len() < n {
            return Err(bad());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(bad());
    }
    let header = input.len() - rest.len();
    let tlv = Tlv {
        tag,
        body: &rest[..len],
        whole: &input[..header + len],
    };
    Ok((tlv, &rest[len..]))
}

/// A constructed value of indefinite length: its children up to the end-of-contents.
fn indefinite<'a>(
    input: &'a [u8],
    tag: u8,
    mut rest: &'a [u8],
    offset: usize,
    depth: usize,
) -> Result<(Tlv<'a>, &'a [u8]), Malformed> {
    if tag & 0x20 == 0 {
        return Err(Malformed(offset));
    }
    let start = input.len() - rest.len();
    loop {
        if rest.starts_with(&[0, 0]) {
            let end = input.len() - rest.len();
            let tlv = Tlv {
                tag,
                body: &input[start..end],
                whole: &input[..end + 2],
            };
            return Ok((tlv, &rest[2..]));
        }
        let at = offset + input.len() - rest.len();
        let (_, after) = read_at(rest, at, depth + 1)?;
        rest = after;
    }
}

/// The values inside a constructed value.
pub(crate) fn children(body: &[u8]) -> Result<Vec<Tlv<'_>>, Malformed> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (tlv, after) = read(rest)?;
        out.push(tlv);
        rest = after;
    }
    Ok(out)
}

/// An OBJECT IDENTIFIER's contents in dotted form.
pub(crate) fn oid(body: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value = 0u64;
    for &b in body {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definite_indefinite_and_truncated_values() {
        let (t, rest) = read(&[0x30, 0x03, 0x02, 0x01, 0x05, 0xff]).unwrap();
        assert_eq!(
            (t.tag, t.body, rest),
            (0x30, &[0x02, 0x01, 0x05][..], &[0xff][..])
        );
        let ber = [0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00, 0x01];
        let (t, rest) = read(&ber).unwrap();
        assert_eq!(
            (t.body, t.whole.len(), rest),
            (&[0x02, 0x01, 0x05][..], 7, &[0x01][..])
        );
        assert_eq!(read(&[0x30, 0x05, 0x02]).unwrap_err(), Malformed(0));
        assert_eq!(
            oid(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02]),
            "1.2.840.113549.1.7.2"
        );
    }
}
