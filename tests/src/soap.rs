//! Callers of the legacy SOAP services: SIST envelopes with the SAML identity assertion
//! (signed by the dev identity provider) and the operator's WS-Security signature over the
//! timestamp and the body (the dev smart card), both signed by xmlsec1, the XML-DSig
//! reference tool — never by the product.
//!
//! [`Identity::header`] gives the assertion and a placeholder for the operator's signature;
//! [`envelope`] builds the message and, where the placeholder is, signs it as sent: a fresh
//! `Timestamp` (a message is accepted once) and the `Body`.

use std::collections::HashMap;
use std::process::Command;
use std::sync::Mutex;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::stack::pki;

/// Namespace and action prefix of the SIST services.
pub const SIST: &str = "http://www.sist.puglia.it/Schemas/PDD_SIST/SCATEL/FSE";
/// The operator on the dev smart card `operator`.
pub const OPERATOR_CF: &str = dev_tools::dev_pki::OPERATOR_CF;
/// SOAP 1.1 envelope namespace.
pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.2 envelope namespace.
pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// WS-Security namespaces.
pub const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// WS-Security utility namespace.
pub const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";

/// The enveloped-signature template of the identity assertions, as an identity provider
/// fills it in (xmlsec1 here).
pub const ASSERTION_SIGNATURE_TEMPLATE: &str = "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/><ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/><ds:Reference URI=\"#identity-assertion\"><ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"><ec:InclusiveNamespaces xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"xs\"/></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></ds:Signature>";

/// Makes (once) the signers no trusted path allows, in the PKI folder: `saml-idp-child`,
/// a signer issued by the identity provider's own certificate (not a CA), and
/// `saml-sub-ca`, a CA certificate (issued by `saml-ca`) used to sign assertions.
pub fn forged_signers() {
    static MADE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    MADE.get_or_init(|| {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        };
        let pki = pki();
        let read = |f: String| std::fs::read_to_string(f).unwrap();
        let make = |name: &str, issuer: &str, ca: bool| {
            let issuer_key = KeyPair::from_pem(&read(pki.key(issuer))).unwrap();
            let issuer = Issuer::from_ca_cert_pem(&read(pki.cert(issuer)), issuer_key).unwrap();
            let key = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .unwrap();
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.distinguished_name.push(DnType::CommonName, "NIGR");
            let now = OffsetDateTime::now_utc();
            p.not_before = now - time::Duration::days(1);
            p.not_after = now + time::Duration::days(30);
            p.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyCertSign,
            ];
            if ca {
                p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            }
            let cert = p.signed_by(&key, &issuer).unwrap();
            std::fs::write(pki.cert(name), cert.pem()).unwrap();
            std::fs::write(pki.key(name), key.serialize_pem()).unwrap();
        };
        make("saml-idp-child", "saml-idp", false);
        make("saml-sub-ca", "saml-ca", true);
    });
}

/// Who calls, and how the header is made (each field a way to make it wrong).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// `resource-id`: the patient.
    pub patient: String,
    /// `purposeofuse`.
    pub purpose: String,
    /// `organization-id`.
    pub organisation: String,
    /// The assertion's operator (subject-id), fiscal code.
    pub operator: String,
    /// PKI name of the smart card that signs the message.
    pub card: &'static str,
    /// PKI name of the assertion's signer; `None` leaves it unsigned.
    pub assertion_signer: Option<&'static str>,
    /// Whether the assertion's window is already over.
    pub expired: bool,
    /// How the assertion states its window.
    pub conditions: Conditions,
}

/// The shape of an assertion's `Conditions` (each but the first a way to make it wrong).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conditions {
    /// `NotBefore` and `NotOnOrAfter` with offsets, about four hours.
    Stated,
    /// No `Conditions` element.
    Absent,
    /// `NotOnOrAfter` without a time-zone offset.
    WithoutOffset,
    /// A window of two days.
    TooLong,
}

/// The shape of the operator's `wsu:Timestamp` (each but the first a way to make it wrong).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timestamp {
    /// `Created` now, `Expires` five minutes later.
    Fresh,
    /// No `Expires`.
    WithoutExpires,
    /// `Created` ten minutes ago (`Expires` still ahead).
    Old,
    /// `Expires` without a time-zone offset.
    WithoutOffset,
    /// A comment inside `Expires` (the signature covers its text without it).
    CommentInExpires,
}

impl Timestamp {
    fn name(self) -> &'static str {
        match self {
            Self::Fresh => "fresh",
            Self::WithoutExpires => "without-expires",
            Self::Old => "old",
            Self::WithoutOffset => "without-offset",
            Self::CommentInExpires => "comment-in-expires",
        }
    }

    fn parse(name: &str) -> Self {
        [
            Self::Fresh,
            Self::WithoutExpires,
            Self::Old,
            Self::WithoutOffset,
            Self::CommentInExpires,
        ]
        .into_iter()
        .find(|t| t.name() == name)
        .expect("a timestamp shape")
    }

    /// The `Created` and `Expires` elements at `now`.
    fn elements(self, now: OffsetDateTime) -> String {
        let at = |t: OffsetDateTime| t.format(&Rfc3339).unwrap();
        let five = time::Duration::minutes(5);
        let (created, expires) = match self {
            Self::Old => (
                now - time::Duration::minutes(10),
                at(now + time::Duration::minutes(1)),
            ),
            Self::WithoutOffset => (now, at(now + five).trim_end_matches('Z').to_string()),
            Self::CommentInExpires => {
                let e = at(now + five);
                let (date, rest) = e.split_at(10);
                (now, format!("{date}<!--x-->{rest}"))
            }
            Self::Fresh | Self::WithoutExpires => (now, at(now + five)),
        };
        let expires = if self == Self::WithoutExpires {
            String::new()
        } else {
            format!("<wsu:Expires>{expires}</wsu:Expires>")
        };
        format!("<wsu:Created>{}</wsu:Created>{expires}", at(created))
    }
}

impl Identity {
    /// The demo operator acting for `patient` with `purpose`.
    pub fn new(patient: &str, purpose: &str) -> Self {
        Self {
            patient: patient.into(),
            purpose: purpose.into(),
            organisation: "160".into(),
            operator: OPERATOR_CF.into(),
            card: "operator",
            assertion_signer: Some("saml-idp"),
            expired: false,
            conditions: Conditions::Stated,
        }
    }

    /// The header blocks: the assertion, then the placeholder [`envelope`] replaces with
    /// the operator's signature.
    pub fn header(&self) -> String {
        let (assertion, security) = self.blocks();
        format!("{assertion}{security}")
    }

    /// The signed assertion (made once per identity) and the operator-signature placeholder.
    pub fn blocks(&self) -> (String, String) {
        static MADE: Mutex<Option<HashMap<Identity, String>>> = Mutex::new(None);
        let mut made = MADE.lock().unwrap();
        let made = made.get_or_insert_with(HashMap::new);
        let assertion = made
            .entry(self.clone())
            .or_insert_with(|| self.assertion())
            .clone();
        (assertion, operator_signature(self.card))
    }

    fn assertion(&self) -> String {
        let now = OffsetDateTime::now_utc();
        let at = |t: OffsetDateTime| t.format(&Rfc3339).unwrap();
        let (from, until) = if self.expired {
            (
                now - time::Duration::days(2),
                now - time::Duration::days(1) - time::Duration::hours(20),
            )
        } else if self.conditions == Conditions::TooLong {
            (
                now - time::Duration::minutes(5),
                now + time::Duration::days(2),
            )
        } else {
            (
                now - time::Duration::minutes(5),
                now + time::Duration::hours(4),
            )
        };
        let conditions = match self.conditions {
            Conditions::Absent => String::new(),
            Conditions::WithoutOffset => format!(
                "<saml2:Conditions NotBefore=\"{}\" NotOnOrAfter=\"{}\"/>",
                at(from),
                at(until).trim_end_matches('Z')
            ),
            Conditions::Stated | Conditions::TooLong => format!(
                "<saml2:Conditions NotBefore=\"{}\" NotOnOrAfter=\"{}\"/>",
                at(from),
                at(until)
            ),
        };
        let attribute = |name: &str, value: &str| {
            format!(
                "<saml2:Attribute Name=\"{name}\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:uri\"><saml2:AttributeValue xsi:type=\"xs:string\">{value}</saml2:AttributeValue></saml2:Attribute>"
            )
        };
        let person = |cf: &str| format!("{cf}^^^&amp;2.16.840.1.113883.2.9.4.3.2&amp;ISO");
        let attributes = [
            attribute("urn:oasis:names:tc:xacml:2.0:subject:role", "AAS"),
            attribute(
                "urn:oasis:names:tc:xacml:1.0:subject:subject-id",
                &person(&self.operator),
            ),
            attribute(
                "urn:oasis:names:tc:xspa:1.0:subject:organization-id",
                &self.organisation,
            ),
            attribute(
                "urn:oasis:names:tc:xspa:1.0:subject:organization",
                "Regione Puglia",
            ),
            attribute(
                "urn:oasis:names:tc:xspa:1.0:environment:locality",
                "LABORATORIO DEMO^^^^^&amp;2.16.840.1.113883.2.9.4.1.3&amp;ISO^^^^160114123456",
            ),
            attribute(
                "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse",
                &self.purpose,
            ),
            attribute(
                "urn:oasis:names:tc:xacml:1.0:resource:resource-id",
                &person(&self.patient),
            ),
            attribute(
                "urn:oasis:names:tc:xspa:1.0:resource:patient:home-community-id",
                "2.16.840.1.113883.2.9.2.160",
            ),
            attribute(
                "urn:oasis:names:tc:xspa:1.0:resource:patient:consent",
                "true",
            ),
        ]
        .concat();
        let signature = if self.assertion_signer.is_some() {
            ASSERTION_SIGNATURE_TEMPLATE
        } else {
            ""
        };
        let template = format!(
            "<saml2:Assertion xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\" xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ID=\"identity-assertion\" IssueInstant=\"{}\" Version=\"2.0\"><saml2:Issuer>NIGR</saml2:Issuer>{signature}<saml2:Subject><saml2:NameID>{}</saml2:NameID></saml2:Subject>{conditions}<saml2:AuthnStatement AuthnInstant=\"{}\"><saml2:AuthnContext><saml2:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:X509</saml2:AuthnContextClassRef></saml2:AuthnContext></saml2:AuthnStatement><saml2:AttributeStatement>{attributes}</saml2:AttributeStatement></saml2:Assertion>",
            at(from),
            person(&self.operator),
            at(from),
        );
        match self.assertion_signer {
            Some(signer) => xmlsec_sign(
                &template,
                signer,
                None,
                &[
                    "--id-attr:ID",
                    "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
                ],
            ),
            None => template,
        }
    }
}

/// The placeholder of the operator's signature with smart card `card`.
pub fn operator_signature(card: &str) -> String {
    operator_signature_with(card, Timestamp::Fresh)
}

/// [`operator_signature`] with a timestamp of shape `timestamp`.
pub fn operator_signature_with(card: &str, timestamp: Timestamp) -> String {
    format!(
        "<fsemw-test-operator-signature card=\"{card}\" timestamp=\"{}\"/>",
        timestamp.name()
    )
}

/// The `wsse:Security` template for `card`: a timestamp of shape `timestamp` at `now`, the
/// card's certificate, and a signature template over `#TS-1` and `#Body-1`.
pub fn security_template(card: &str, timestamp: Timestamp, now: OffsetDateTime) -> String {
    let pem = std::fs::read_to_string(pki().cert(card)).unwrap();
    let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let reference = |uri: &str| {
        format!(
            "<ds:Reference URI=\"#{uri}\"><ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms><ds:DigestMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha1\"/><ds:DigestValue/></ds:Reference>"
        )
    };
    format!(
        "<wsse:Security xmlns:wsse=\"{WSSE}\" xmlns:wsu=\"{WSU}\"><wsu:Timestamp wsu:Id=\"TS-1\">{}</wsu:Timestamp><wsse:BinarySecurityToken EncodingType=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary\" ValueType=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3\" wsu:Id=\"X509-1\">{der}</wsse:BinarySecurityToken><ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/><ds:SignatureMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#rsa-sha1\"/>{}{}</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><wsse:SecurityTokenReference><wsse:Reference URI=\"#X509-1\" ValueType=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3\"/></wsse:SecurityTokenReference></ds:KeyInfo></ds:Signature></wsse:Security>",
        timestamp.elements(now),
        reference("TS-1"),
        reference("Body-1"),
    )
}

/// Signs the signature template `node_xpath` selects in `xml` with the PKI key `name`,
/// `id_attr` naming the id attributes (`--id-attr:…` pairs); the result without its XML
/// declaration.
pub fn xmlsec_sign(xml: &str, name: &str, node_xpath: Option<&str>, id_attr: &[&str]) -> String {
    let pki = pki();
    let dir = std::env::temp_dir().join(format!("fsemw-sign-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in.xml");
    let output = dir.join("out.xml");
    std::fs::write(&input, xml).unwrap();
    let key = format!("{},{}", pki.key(name), pki.cert(name));
    let mut cmd = Command::new("xmlsec1");
    cmd.arg("--sign")
        .args(["--privkey-pem", &key])
        .args(id_attr);
    if let Some(x) = node_xpath {
        cmd.args(["--node-xpath", x]);
    }
    let out = cmd
        .arg("--output")
        .arg(&output)
        .arg(&input)
        .output()
        .expect("xmlsec1 (Debian package xmlsec1; ops/test.sh installs it)");
    assert!(
        out.status.success(),
        "xmlsec1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed = std::fs::read_to_string(&output).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    match signed.strip_prefix("<?xml") {
        Some(rest) => rest[rest.find("?>").unwrap() + 2..].trim().to_string(),
        None => signed.trim().to_string(),
    }
}

/// Signs the operator's template of `xml` (an envelope whose `Body` is `wsu:Id="Body-1"`)
/// with `card`, as xmlsec1 does for a WS-Security sender.
pub fn sign_operator(xml: &str, card: &str, soap_ns: &str) -> String {
    xmlsec_sign(
        xml,
        card,
        Some(
            "/*[local-name()='Envelope']/*[local-name()='Header']/*[local-name()='Security']/*[local-name()='Signature']",
        ),
        &[
            "--id-attr:Id",
            &format!("{WSU}:Timestamp"),
            "--id-attr:Id",
            &format!("{soap_ns}:Body"),
            "--id-attr:Id",
            &format!("{WSSE}:BinarySecurityToken"),
        ],
    )
}

/// A SOAP 1.1 SIST request: WS-Addressing as observed, `header` blocks, the operation
/// element with `inner` as its children; signed by the operator where `header` has the
/// placeholder.
pub fn envelope(operation: &str, inner: &str, header: &str) -> String {
    envelope_in(SOAP11, operation, inner, header)
}

/// [`envelope`] in the SOAP version of namespace `soap_ns`.
pub fn envelope_in(soap_ns: &str, operation: &str, inner: &str, header: &str) -> String {
    const MARK: &str = "<fsemw-test-operator-signature ";
    let (header, card) = match header.find(MARK) {
        Some(at) => {
            let end = at + header[at..].find("/>").unwrap() + 2;
            let attr = |name: &str| {
                let tag = &header[at..end];
                let from = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                tag[from..from + tag[from..].find('"').unwrap()].to_string()
            };
            let card = attr("card");
            let timestamp = Timestamp::parse(&attr("timestamp"));
            let template = security_template(&card, timestamp, OffsetDateTime::now_utc());
            (
                format!("{}{template}{}", &header[..at], &header[end..]),
                Some(card),
            )
        }
        None => (header.to_string(), None),
    };
    let xml = format!(
        "<S:Envelope xmlns:S=\"{soap_ns}\"><S:Header><To xmlns=\"http://www.w3.org/2005/08/addressing\">https://asl/service</To><Action xmlns=\"http://www.w3.org/2005/08/addressing\" S:mustUnderstand=\"1\">{SIST}/{operation}</Action><MessageID xmlns=\"http://www.w3.org/2005/08/addressing\">uuid:{}</MessageID>{header}</S:Header><S:Body xmlns:wsu=\"{WSU}\" wsu:Id=\"Body-1\"><fse:{operation} xmlns:fse=\"{SIST}\">{inner}</fse:{operation}></S:Body></S:Envelope>",
        uuid::Uuid::new_v4()
    );
    match card {
        Some(card) => sign_operator(&xml, &card, soap_ns),
        None => xml,
    }
}
