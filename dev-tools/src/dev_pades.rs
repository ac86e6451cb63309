//! PAdES signatures for the tests, the demo and the load tools (`fsemw-dev sign-pdf`): a
//! PDF signed as a producer's signing software signs it —
//! an AcroForm signature field whose `/V` has `/SubFilter /ETSI.CAdES.detached`, a
//! `/ByteRange` around the `/Contents` hex string, and a CMS SignedData (ECDSA P-256,
//! SHA-256, signed attributes content-type, signing-time, message-digest) carrying its
//! self-signed certificate. The gateway checks the signature, not its trust.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use hsm::der::tlv;
use lopdf::{Document, Object, StringFormat, dictionary};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Room for the CMS in `/Contents`, in bytes.
const ROOM: usize = 4096;
const RANGE_PLACEHOLDER: &str = "[0 1000000000 1000000000 1000000000]";

/// Re-signs `pdf` now with a fresh signer: a form whose only field is the new signature
/// (an earlier signature dictionary stays in the file, outside the form).
pub fn sign_now(pdf: &[u8]) -> anyhow::Result<Vec<u8>> {
    PadesSigner::valid_now().sign(pdf, OffsetDateTime::now_utc())
}

/// A signer: a P-256 key and its self-signed certificate.
pub struct PadesSigner {
    key: EcdsaKeyPair,
    cert: Vec<u8>,
}

impl PadesSigner {
    /// A signer whose certificate is valid from `not_before` to `not_after`.
    pub fn new(not_before: OffsetDateTime, not_after: OffsetDateTime) -> Self {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Medico Firmatario (test)");
        params.not_before = not_before;
        params.not_after = not_after;
        params.serial_number = Some(rcgen::SerialNumber::from(vec![0x01, 0x23, 0x45]));
        let cert = params.self_signed(&key).expect("certificate");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &key.serialize_der())
            .expect("pkcs8");
        Self {
            key: pair,
            cert: cert.der().to_vec(),
        }
    }

    /// A signer valid from a year ago for ten years.
    pub fn valid_now() -> Self {
        let now = OffsetDateTime::now_utc();
        Self::new(
            now - time::Duration::days(365),
            now + time::Duration::days(3650),
        )
    }

    /// `pdf` signed at `at`: the whole file but the `/Contents` gap is covered.
    pub fn sign(&self, pdf: &[u8], at: OffsetDateTime) -> anyhow::Result<Vec<u8>> {
        let mut out = with_placeholder(pdf)?;
        let gap = format!("<{}>", "00".repeat(ROOM));
        let start = find(&out, gap.as_bytes())?;
        let end = start + gap.len();
        let range = format!("[0 {start} {end} {}]", out.len() - end);
        let range = format!("{range:<width$}", width = RANGE_PLACEHOLDER.len());
        let at_range = find(&out, RANGE_PLACEHOLDER.as_bytes())?;
        out[at_range..at_range + range.len()].copy_from_slice(range.as_bytes());
        let mut content = out[..start].to_vec();
        content.extend_from_slice(&out[end..]);
        let cms = self.cms(&content, at);
        assert!(cms.len() <= ROOM, "the CMS fits its room");
        let hex: String = cms.iter().map(|b| format!("{b:02X}")).collect();
        out[start + 1..start + 1 + hex.len()].copy_from_slice(hex.as_bytes());
        Ok(out)
    }

    /// A detached SignedData over `content`.
    pub fn cms(&self, content: &[u8], at: OffsetDateTime) -> Vec<u8> {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, content);
        let (_, cert) = X509Certificate::from_der(&self.cert).expect("own certificate");
        let issuer = cert.tbs_certificate.issuer.as_raw();
        let serial = tlv(0x02, cert.tbs_certificate.raw_serial());
        let mut attrs = [
            attribute("1.2.840.113549.1.9.3", &oid("1.2.840.113549.1.7.1")),
            attribute("1.2.840.113549.1.9.5", &utc_time(at)),
            attribute("1.2.840.113549.1.9.4", &tlv(0x04, digest.as_ref())),
        ];
        // DER: a SET's members sorted by their encodings.
        attrs.sort();
        let attrs = attrs.concat();
        let signature = self
            .key
            .sign(&SystemRandom::new(), &tlv(0x31, &attrs))
            .expect("sign");
        let sha256 = tlv(
            0x30,
            &[oid("2.16.840.1.101.3.4.2.1"), vec![0x05, 0x00]].concat(),
        );
        let signer_info = tlv(
            0x30,
            &[
                tlv(0x02, &[1]),
                tlv(0x30, &[issuer, &serial].concat()),
                sha256.clone(),
                tlv(0xa0, &attrs),
                tlv(0x30, &oid("1.2.840.10045.4.3.2")),
                tlv(0x04, signature.as_ref()),
            ]
            .concat(),
        );
        let signed_data = tlv(
            0x30,
            &[
                tlv(0x02, &[1]),
                tlv(0x31, &sha256),
                tlv(0x30, &oid("1.2.840.113549.1.7.1")),
                tlv(0xa0, &self.cert),
                tlv(0x31, &signer_info),
            ]
            .concat(),
        );
        tlv(
            0x30,
            &[oid("1.2.840.113549.1.7.2"), tlv(0xa0, &signed_data)].concat(),
        )
    }
}

/// The PDF rewritten with a signature field whose range and contents are placeholders.
fn with_placeholder(pdf: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut doc = Document::load_mem(pdf).map_err(|e| anyhow::anyhow!("not a PDF: {e}"))?;
    let page = doc
        .page_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("a PDF without pages"))?;
    let range: Vec<Object> = RANGE_PLACEHOLDER
        .trim_matches(['[', ']'])
        .split(' ')
        .map(|n| Object::Integer(n.parse().expect("number")))
        .collect();
    let sig = doc.add_object(dictionary! {
        "Type" => "Sig", "Filter" => "Adobe.PPKLite", "SubFilter" => "ETSI.CAdES.detached",
        "ByteRange" => range,
        "Contents" => Object::String(vec![0; ROOM], StringFormat::Hexadecimal),
        "M" => Object::string_literal("D:20261204000000Z"),
    });
    let field = doc.add_object(dictionary! {
        "FT" => "Sig", "T" => Object::string_literal("Signature1"), "V" => sig,
        "Type" => "Annot", "Subtype" => "Widget", "F" => 132, "P" => page,
        "Rect" => vec![0.into(), 0.into(), 0.into(), 0.into()],
    });
    let catalog = doc
        .catalog_mut()
        .map_err(|e| anyhow::anyhow!("no catalog: {e}"))?;
    catalog.set(
        "AcroForm",
        dictionary! { "Fields" => vec![field.into()], "SigFlags" => 3 },
    );
    let mut out = Vec::new();
    doc.save_to(&mut out)?;
    Ok(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> anyhow::Result<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .ok_or_else(|| anyhow::anyhow!("the signature placeholder was not written as expected"))
}

fn oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').map(|a| a.parse().expect("arc")).collect();
    let mut body = Vec::new();
    for &arc in std::iter::once(&(arcs[0] * 40 + arcs[1])).chain(&arcs[2..]) {
        let mut chunk = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            chunk.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        chunk.reverse();
        body.extend(chunk);
    }
    tlv(0x06, &body)
}

fn attribute(kind: &str, value: &[u8]) -> Vec<u8> {
    tlv(0x30, &[oid(kind), tlv(0x31, value)].concat())
}

fn utc_time(at: OffsetDateTime) -> Vec<u8> {
    let at = at.to_offset(time::UtcOffset::UTC);
    let text = format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}Z",
        at.year() % 100,
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    tlv(0x17, text.as_bytes())
}
