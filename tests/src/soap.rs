//! Callers of the legacy SOAP services: SIST envelopes with the SAML identity assertion
//! (signed by the dev identity provider) and the operator's WS-Security signature (the
//! dev smart card), both signed by xmlsec1, the XML-DSig reference tool.

use std::collections::HashMap;
use std::process::Command;
use std::sync::Mutex;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::stack::pki;

/// Namespace and action prefix of the SIST services.
pub const SIST: &str = "http://www.sist.puglia.it/Schemas/PDD_SIST/SCATEL/FSE";
/// The operator on the dev smart card `operator`.
pub const OPERATOR_CF: &str = middleware::devtools::dev_pki::OPERATOR_CF;

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
        }
    }

    /// The header blocks: the assertion, then `wsse:Security`.
    pub fn header(&self) -> String {
        let (assertion, security) = self.blocks();
        format!("{assertion}{security}")
    }

    /// The signed assertion and the `wsse:Security` block, made once per identity.
    pub fn blocks(&self) -> (String, String) {
        static MADE: Mutex<Option<HashMap<Identity, (String, String)>>> = Mutex::new(None);
        let mut made = MADE.lock().unwrap();
        let made = made.get_or_insert_with(HashMap::new);
        made.entry(self.clone())
            .or_insert_with(|| (self.assertion(), self.security()))
            .clone()
    }

    fn assertion(&self) -> String {
        let now = OffsetDateTime::now_utc();
        let at = |t: OffsetDateTime| t.format(&Rfc3339).unwrap();
        let (from, until) = if self.expired {
            (now - time::Duration::days(2), now - time::Duration::days(1))
        } else {
            (
                now - time::Duration::minutes(5),
                now + time::Duration::hours(4),
            )
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
            "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/><ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/><ds:Reference URI=\"#identity-assertion\"><ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"><ec:InclusiveNamespaces xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"xs\"/></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></ds:Signature>"
        } else {
            ""
        };
        let template = format!(
            "<saml2:Assertion xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\" xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ID=\"identity-assertion\" IssueInstant=\"{}\" Version=\"2.0\"><saml2:Issuer>NIGR</saml2:Issuer>{signature}<saml2:Subject><saml2:NameID>{}</saml2:NameID></saml2:Subject><saml2:Conditions NotBefore=\"{}\" NotOnOrAfter=\"{}\"/><saml2:AuthnStatement AuthnInstant=\"{}\"><saml2:AuthnContext><saml2:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:X509</saml2:AuthnContextClassRef></saml2:AuthnContext></saml2:AuthnStatement><saml2:AttributeStatement>{attributes}</saml2:AttributeStatement></saml2:Assertion>",
            at(from),
            person(&self.operator),
            at(from),
            at(until),
            at(from),
        );
        match self.assertion_signer {
            Some(signer) => xmlsec_sign(
                &template,
                signer,
                &[
                    "--id-attr:ID",
                    "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
                ],
            ),
            None => template,
        }
    }

    fn security(&self) -> String {
        let now = OffsetDateTime::now_utc();
        let at = |t: OffsetDateTime| t.format(&Rfc3339).unwrap();
        let pem = std::fs::read_to_string(pki().cert(self.card)).unwrap();
        let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let template = format!(
            "<wsse:Security xmlns:wsse=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\" xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd\"><wsu:Timestamp wsu:Id=\"TS-1\"><wsu:Created>{}</wsu:Created><wsu:Expires>{}</wsu:Expires></wsu:Timestamp><wsse:BinarySecurityToken EncodingType=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary\" ValueType=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3\" wsu:Id=\"X509-1\">{der}</wsse:BinarySecurityToken><ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/><ds:SignatureMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#rsa-sha1\"/><ds:Reference URI=\"#TS-1\"><ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms><ds:DigestMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha1\"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><wsse:SecurityTokenReference><wsse:Reference URI=\"#X509-1\" ValueType=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3\"/></wsse:SecurityTokenReference></ds:KeyInfo></ds:Signature></wsse:Security>",
            at(now - time::Duration::minutes(1)),
            at(now + time::Duration::hours(4)),
        );
        xmlsec_sign(
            &template,
            self.card,
            &[
                "--id-attr:Id",
                "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd:Timestamp",
            ],
        )
    }
}

/// Signs the first signature template of `xml` with the PKI key `name`; the result
/// without its XML declaration.
fn xmlsec_sign(xml: &str, name: &str, id_attr: &[&str]) -> String {
    let pki = pki();
    let dir = std::env::temp_dir().join(format!("fsemw-sign-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in.xml");
    let output = dir.join("out.xml");
    std::fs::write(&input, xml).unwrap();
    let key = format!("{},{}", pki.key(name), pki.cert(name));
    let out = Command::new("xmlsec1")
        .arg("--sign")
        .args(["--privkey-pem", &key])
        .args(id_attr)
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

/// A SOAP 1.1 SIST request: WS-Addressing as observed, `header` blocks, the operation
/// element with `inner` as its children.
pub fn envelope(operation: &str, inner: &str, header: &str) -> String {
    format!(
        "<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Header><To xmlns=\"http://www.w3.org/2005/08/addressing\">https://asl/service</To><Action xmlns=\"http://www.w3.org/2005/08/addressing\" S:mustUnderstand=\"1\">{SIST}/{operation}</Action><MessageID xmlns=\"http://www.w3.org/2005/08/addressing\">uuid:{}</MessageID>{header}</S:Header><S:Body><fse:{operation} xmlns:fse=\"{SIST}\">{inner}</fse:{operation}></S:Body></S:Envelope>",
        uuid::Uuid::new_v4()
    )
}
