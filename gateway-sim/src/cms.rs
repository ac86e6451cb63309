//! A detached CMS SignedData verified as the dispatcher's Bouncy Castle 1.80 does it
//! (`SignerUtility.validate` @ de019846: the first signer, the certificate the signer
//! identifier names among those the CMS carries, `SignerInformation.verify`): the signing
//! time inside the certificate's validity, the `content-type` and `message-digest`
//! attributes present and matching, and the signature over the attributes with the
//! certificate's key. No trust chain: any certificate the CMS carries will do.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::der::{self, Tlv, tag};

const SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const SIGNING_TIME: &str = "1.2.840.113549.1.9.5";

/// Why a signature does not verify (each one is "La firma del pdf non risulta valida").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    /// Not a SignedData this reader can parse.
    #[error("not a CMS SignedData: {0}")]
    Structure(&'static str),
    /// No signer, or no carried certificate matches it.
    #[error("no signer certificate")]
    NoCertificate,
    /// The signing time is outside the certificate's validity.
    #[error("certificate not valid at the signing time")]
    NotValidAtSigningTime,
    /// A mandatory signed attribute is missing or the digest differs.
    #[error("signed attributes: {0}")]
    Attributes(&'static str),
    /// A digest or signature algorithm this verifier does not know.
    #[error("unsupported algorithm {0}")]
    Algorithm(String),
    /// The signature does not verify with the certificate's key.
    #[error("signature does not verify")]
    Signature,
}

impl From<der::Malformed> for Refusal {
    fn from(_: der::Malformed) -> Self {
        Self::Structure("malformed ASN.1")
    }
}

/// The first signer of the parts a verification needs.
struct Signer<'a> {
    sid: Tlv<'a>,
    digest_oid: String,
    signed_attrs: Option<Tlv<'a>>,
    signature_alg: Tlv<'a>,
    signature: &'a [u8],
    unsigned_attrs: Option<Tlv<'a>>,
}

/// What the signed attributes must say.
struct Expected<'a> {
    content_type: &'a str,
    digest: &'a [u8],
}

/// Verifies `cms` (a ContentInfo; bytes after it are ignored, as the padding of a PDF's
/// `/Contents`) over the detached `content`.
pub(crate) fn verify(content: &[u8], cms: &[u8]) -> Result<(), Refusal> {
    let (info, _) = der::read(cms)?;
    let parts = der::children(sequence(&info, "ContentInfo")?)?;
    let (Some(kind), Some(wrapper)) = (parts.first(), parts.get(1)) else {
        return Err(Refusal::Structure("ContentInfo"));
    };
    if der::oid(kind.body) != SIGNED_DATA || wrapper.tag != tag::CONTEXT_0 {
        return Err(Refusal::Structure("not signed-data"));
    }
    let (signed_data, _) = der::read(wrapper.body)?;
    let fields = der::children(sequence(&signed_data, "SignedData")?)?;
    let certificates: Vec<Tlv<'_>> = match fields.iter().find(|f| f.tag == tag::CONTEXT_0) {
        Some(set) => der::children(set.body)?,
        None => Vec::new(),
    };
    let signer_infos = fields
        .iter()
        .rev()
        .find(|f| f.tag == tag::SET)
        .ok_or(Refusal::Structure("signerInfos"))?;
    let content_type = fields
        .get(2)
        .and_then(|e| {
            der::children(e.body)
                .ok()?
                .first()
                .map(|o| der::oid(o.body))
        })
        .ok_or(Refusal::Structure("encapContentInfo"))?;
    let first = der::children(signer_infos.body)?
        .into_iter()
        .next()
        .ok_or(Refusal::NoCertificate)?;
    let signer = signer(first)?;
    let cert = certificates
        .iter()
        .filter_map(|c| X509Certificate::from_der(c.whole).ok().map(|(_, x)| x))
        .find(|c| identifies(&signer.sid, c))
        .ok_or(Refusal::NoCertificate)?;
    let digest_alg = digest_algorithm(&signer.digest_oid)?;
    let content_digest = digest::digest(digest_alg, content);
    let signed: Vec<u8> = match &signer.signed_attrs {
        None => content.to_vec(),
        Some(attrs) => {
            let expected = Expected {
                content_type: &content_type,
                digest: content_digest.as_ref(),
            };
            check_attributes(attrs, signer.unsigned_attrs.as_ref(), &expected, &cert)?;
            der_set(attrs)?
        }
    };
    let algorithm = verification_algorithm(&signer, &cert)?;
    let key = &cert.tbs_certificate.subject_pki.subject_public_key.data;
    UnparsedPublicKey::new(algorithm, key.as_ref())
        .verify(&signed, signer.signature)
        .map_err(|_| Refusal::Signature)
}

/// The contents of a value that must be a SEQUENCE.
fn sequence<'a>(tlv: &Tlv<'a>, what: &'static str) -> Result<&'a [u8], Refusal> {
    if tlv.tag == tag::SEQUENCE {
        Ok(tlv.body)
    } else {
        Err(Refusal::Structure(what))
    }
}

fn signer(info: Tlv<'_>) -> Result<Signer<'_>, Refusal> {
    let parts = der::children(sequence(&info, "SignerInfo")?)?;
    let mut it = parts.into_iter().skip(1);
    let sid = it.next().ok_or(Refusal::Structure("sid"))?;
    let digest_alg = it.next().ok_or(Refusal::Structure("digestAlgorithm"))?;
    let mut next = it.next().ok_or(Refusal::Structure("signatureAlgorithm"))?;
    let signed_attrs = if next.tag == tag::CONTEXT_0 {
        let attrs = next;
        next = it.next().ok_or(Refusal::Structure("signatureAlgorithm"))?;
        Some(attrs)
    } else {
        None
    };
    let signature = it
        .next()
        .filter(|s| s.tag == tag::OCTET_STRING)
        .ok_or(Refusal::Structure("signature"))?;
    Ok(Signer {
        sid,
        digest_oid: algorithm_oid(&digest_alg)?,
        signed_attrs,
        signature_alg: next,
        signature: signature.body,
        unsigned_attrs: it.next().filter(|u| u.tag == tag::CONTEXT_1),
    })
}

fn algorithm_oid(alg: &Tlv<'_>) -> Result<String, Refusal> {
    let parts = der::children(alg.body)?;
    let oid = parts
        .first()
        .filter(|o| o.tag == tag::OID)
        .ok_or(Refusal::Structure("AlgorithmIdentifier"))?;
    Ok(der::oid(oid.body))
}

/// IssuerAndSerialNumber (issuer and serial as encoded) or `[0]` SubjectKeyIdentifier.
fn identifies(sid: &Tlv<'_>, cert: &X509Certificate<'_>) -> bool {
    if sid.tag == tag::CONTEXT_0_PRIMITIVE {
        return cert.extensions().iter().any(|e| {
            matches!(e.parsed_extension(),
                x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) if k.0 == sid.body)
        });
    }
    let Ok(parts) = der::children(sid.body) else {
        return false;
    };
    match (parts.first(), parts.get(1)) {
        (Some(issuer), Some(serial)) if serial.tag == tag::INTEGER => {
            issuer.whole == cert.tbs_certificate.issuer.as_raw()
                && serial.body == cert.tbs_certificate.raw_serial()
        }
        _ => false,
    }
}

/// `content-type` (equal to the encapsulated type) and `message-digest` (equal to the
/// content's) once each with one value, a signing time (one) inside the certificate's
/// validity, and none of the three among the unsigned attributes (Bouncy Castle's
/// `getSingleValuedSignedAttribute`, `verifyContentTypeAttributeValue`).
fn check_attributes(
    attrs: &Tlv<'_>,
    unsigned: Option<&Tlv<'_>>,
    expected: &Expected<'_>,
    cert: &X509Certificate<'_>,
) -> Result<(), Refusal> {
    let checked = [CONTENT_TYPE, MESSAGE_DIGEST, SIGNING_TIME];
    if let Some(unsigned) = unsigned {
        for (oid, _) in attributes(unsigned)? {
            if checked.contains(&oid.as_str()) {
                return Err(Refusal::Structure("a signed attribute among the unsigned"));
            }
        }
    }
    let mut seen: Vec<String> = Vec::new();
    let (mut content_type, mut digest) = (None, None);
    for (oid, values) in attributes(attrs)? {
        if !checked.contains(&oid.as_str()) {
            continue;
        }
        if seen.contains(&oid) || values.len() != 1 {
            return Err(Refusal::Structure("a signed attribute not single-valued"));
        }
        let value = values[0];
        match oid.as_str() {
            CONTENT_TYPE => content_type = Some(value),
            MESSAGE_DIGEST => digest = Some(value),
            _ => {
                let at = seconds(&value).ok_or(Refusal::Structure("signingTime"))?;
                let validity = cert.validity();
                if at < validity.not_before.timestamp() || at > validity.not_after.timestamp() {
                    return Err(Refusal::NotValidAtSigningTime);
                }
            }
        }
        seen.push(oid);
    }
    match content_type {
        Some(t) if t.tag == tag::OID && der::oid(t.body) == expected.content_type => {}
        _ => return Err(Refusal::Attributes("content-type")),
    }
    match digest {
        Some(d) if d.tag == tag::OCTET_STRING && d.body == expected.digest => Ok(()),
        Some(_) => Err(Refusal::Attributes("message-digest differs")),
        None => Err(Refusal::Attributes("message-digest")),
    }
}

/// The attributes of a SET: each one's type and values.
fn attributes<'a>(set: &Tlv<'a>) -> Result<Vec<(String, Vec<Tlv<'a>>)>, Refusal> {
    der::children(set.body)?
        .into_iter()
        .map(|attr| {
            let parts = der::children(attr.body)?;
            let (Some(oid), Some(values)) = (parts.first(), parts.get(1)) else {
                return Err(Refusal::Structure("Attribute"));
            };
            Ok((der::oid(oid.body), der::children(values.body)?))
        })
        .collect()
}

/// The signed attributes as Bouncy Castle verifies them: re-encoded as a DER SET, whose
/// members are sorted by their encodings (X.690 §11.6), whatever order they came in.
fn der_set(attrs: &Tlv<'_>) -> Result<Vec<u8>, Refusal> {
    let mut members: Vec<&[u8]> = der::children(attrs.body)?
        .into_iter()
        .map(|t| t.whole)
        .collect();
    members.sort_by(|a, b| {
        let n = a.len().max(b.len());
        let pad = |x: &[u8]| {
            x.iter()
                .copied()
                .chain(std::iter::repeat(0))
                .take(n)
                .collect::<Vec<u8>>()
        };
        pad(a).cmp(&pad(b))
    });
    Ok(hsm::der::tlv(tag::SET, &members.concat()))
}

/// A UTCTime or GeneralizedTime as seconds since the epoch.
fn seconds(t: &Tlv<'_>) -> Option<i64> {
    let text = std::str::from_utf8(t.body).ok()?;
    let (year, rest) = match t.tag {
        tag::UTC_TIME => {
            let yy: i32 = text.get(..2)?.parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, text.get(2..)?)
        }
        tag::GENERALIZED_TIME => (text.get(..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| rest.get(r)?.parse::<u8>().ok();
    let month = time::Month::try_from(num(0..2)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, num(2..4)?).ok()?;
    let seconds = rest.get(8..10).and_then(|s| s.parse().ok()).unwrap_or(0);
    let at = date.with_hms(num(4..6)?, num(6..8)?, seconds).ok()?;
    let offset = match rest.find(['+', '-']) {
        Some(i) => {
            let sign = if rest.as_bytes()[i] == b'-' { -1 } else { 1 };
            let hh: i64 = rest.get(i + 1..i + 3)?.parse().ok()?;
            let mm: i64 = rest.get(i + 3..i + 5)?.parse().ok()?;
            sign * (hh * 3600 + mm * 60)
        }
        None => 0,
    };
    Some(at.assume_utc().unix_timestamp() - offset)
}

fn digest_algorithm(oid: &str) -> Result<&'static digest::Algorithm, Refusal> {
    Ok(match oid {
        "1.3.14.3.2.26" => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        "2.16.840.1.101.3.4.2.1" => &digest::SHA256,
        "2.16.840.1.101.3.4.2.2" => &digest::SHA384,
        "2.16.840.1.101.3.4.2.3" => &digest::SHA512,
        other => return Err(Refusal::Algorithm(other.to_string())),
    })
}

/// The hash a signature algorithm names itself, else the signer's digest algorithm (as
/// Bouncy Castle composes `<digest>WITH<encryption>`).
fn verification_algorithm(
    signer: &Signer<'_>,
    cert: &X509Certificate<'_>,
) -> Result<&'static dyn VerificationAlgorithm, Refusal> {
    let sig_oid = algorithm_oid(&signer.signature_alg)?;
    let hash = match sig_oid.as_str() {
        "1.2.840.113549.1.1.5" => "sha1",
        "1.2.840.113549.1.1.11" | "1.2.840.10045.4.3.2" => "sha256",
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => "sha384",
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => "sha512",
        "1.2.840.113549.1.1.1" | "1.2.840.10045.2.1" => match signer.digest_oid.as_str() {
            "1.3.14.3.2.26" => "sha1",
            "2.16.840.1.101.3.4.2.1" => "sha256",
            "2.16.840.1.101.3.4.2.2" => "sha384",
            "2.16.840.1.101.3.4.2.3" => "sha512",
            other => return Err(Refusal::Algorithm(other.to_string())),
        },
        other => return Err(Refusal::Algorithm(other.to_string())),
    };
    let is_ec = sig_oid.starts_with("1.2.840.10045");
    if !is_ec {
        return Ok(match hash {
            "sha1" => &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
            "sha256" => &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            "sha384" => &signature::RSA_PKCS1_2048_8192_SHA384,
            _ => &signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
        });
    }
    let curve = cert
        .tbs_certificate
        .subject_pki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.to_id_string())
        .unwrap_or_default();
    Ok(match (curve.as_str(), hash) {
        ("1.2.840.10045.3.1.7", "sha1") => &signature::ECDSA_P256_SHA1_ASN1,
        ("1.2.840.10045.3.1.7", "sha256") => &signature::ECDSA_P256_SHA256_ASN1,
        ("1.2.840.10045.3.1.7", "sha384") => &signature::ECDSA_P256_SHA384_ASN1,
        ("1.2.840.10045.3.1.7", "sha512") => &signature::ECDSA_P256_SHA512_ASN1,
        ("1.3.132.0.34", "sha256") => &signature::ECDSA_P384_SHA256_ASN1,
        ("1.3.132.0.34", "sha384") => &signature::ECDSA_P384_SHA384_ASN1,
        ("1.3.132.0.34", "sha512") => &signature::ECDSA_P384_SHA512_ASN1,
        ("1.3.132.0.35", "sha512") => &signature::ECDSA_P521_SHA512_ASN1,
        _ => return Err(Refusal::Algorithm(format!("{curve} with {hash}"))),
    })
}
