//! Just enough DER to write an RSA public key (PKCS#1 and SubjectPublicKeyInfo), and the
//! one value writer the dev tools' CMS uses too.

fn len(n: usize, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
}

/// One value: its tag, its definite length, its contents.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    len(content.len(), &mut out);
    out.extend_from_slice(content);
    out
}

fn unsigned_integer(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend(trimmed);
    tlv(0x02, &content)
}

/// PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
pub fn rsa_public_key(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    tlv(
        0x30,
        &[unsigned_integer(modulus), unsigned_integer(exponent)].concat(),
    )
}

/// SubjectPublicKeyInfo with `rsaEncryption` and NULL parameters around a PKCS#1 key.
pub fn rsa_spki(rsa_public_key: &[u8]) -> Vec<u8> {
    let algorithm = tlv(
        0x30,
        &[
            tlv(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
            ),
            vec![0x05, 0x00],
        ]
        .concat(),
    );
    let mut bits = vec![0u8];
    bits.extend_from_slice(rsa_public_key);
    tlv(0x30, &[algorithm, tlv(0x03, &bits)].concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_positive_and_minimal() {
        assert_eq!(unsigned_integer(&[0x00, 0x01]), vec![0x02, 0x01, 0x01]);
        assert_eq!(unsigned_integer(&[0x80]), vec![0x02, 0x02, 0x00, 0x80]);
        let big = vec![0xff; 256];
        let enc = unsigned_integer(&big);
        assert_eq!(&enc[..4], &[0x02, 0x82, 0x01, 0x01]);
    }
}
