//! SAML identity assertions, checked against xmlsec1 (the XML-DSig reference tool): an
//! assertion xmlsec1 signs must verify here, any change to it must not; on the published
//! INI messages (pretty-printed after signing) both refuse the digest.

use std::process::Command;

use base64::Engine;
use hsm::Certificate;
use integration_tests::shared_dir;
use integration_tests::stack::pki;
use middleware::saml::{SamlError, verify};
use time::macros::datetime;

const TEMPLATE: &str = r##"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Header><saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="_a1" IssueInstant="2026-11-25T10:00:00.000Z" Version="2.0"><saml2:Issuer>160</saml2:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#_a1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="xs"/></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></ds:Signature>
    <saml2:Subject><saml2:NameID>PROVAX00X00X000Y^^^&amp;2.16.840.1.113883.2.9.4.3.2&amp;ISO</saml2:NameID></saml2:Subject>
    <saml2:Conditions NotBefore="2026-01-01T00:00:00Z" NotOnOrAfter="2036-01-01T00:00:00Z"/>
    <saml2:AttributeStatement><saml2:Attribute Name="urn:oasis:names:tc:xacml:1.0:resource:resource-id" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri"><saml2:AttributeValue xsi:type="xs:string">RSSMRA75C03F839K^^^&amp;2.16.840.1.113883.2.9.4.3.2&amp;ISO</saml2:AttributeValue></saml2:Attribute>
    <saml2:Attribute Name="urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"><saml2:AttributeValue xsi:type="xs:string">TREATMENT</saml2:AttributeValue></saml2:Attribute></saml2:AttributeStatement></saml2:Assertion></soap:Header><soap:Body/></soap:Envelope>"##;

fn xmlsec1(args: &[&str]) -> std::process::Output {
    Command::new("xmlsec1")
        .args(args)
        .output()
        .expect("xmlsec1 (Debian package xmlsec1; ops/test.sh installs it)")
}

#[test]
fn assertions_signed_by_xmlsec1_verify_and_changed_ones_do_not() {
    let pki = pki();
    let dir = std::env::temp_dir().join(format!("fsemw-saml-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let template = dir.join("template.xml");
    let signed_path = dir.join("signed.xml");
    std::fs::write(&template, TEMPLATE).unwrap();
    let key_cert = format!("{},{}", pki.key("region-sig"), pki.cert("region-sig"));
    let out = xmlsec1(&[
        "--sign",
        "--privkey-pem",
        &key_cert,
        "--id-attr:ID",
        "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
        "--output",
        signed_path.to_str().unwrap(),
        template.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed = std::fs::read_to_string(&signed_path).unwrap();
    let national = Certificate::load_pem_chain(&pki.cert("national-ca"))
        .unwrap()
        .remove(0);
    let now = datetime!(2026-11-25 12:00 UTC);
    let a = verify(&signed, now, std::slice::from_ref(&national)).expect("signed by xmlsec1");
    assert_eq!(a.issuer, "160");
    assert_eq!(
        a.subject,
        "PROVAX00X00X000Y^^^&2.16.840.1.113883.2.9.4.3.2&ISO"
    );
    assert_eq!(
        a.attribute("urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"),
        Some("TREATMENT")
    );
    assert!(a.signer.subject_cn().starts_with("S1#160#"));
    // Trust, validity, content, signature.
    assert!(matches!(
        verify(&signed, now, &[]),
        Err(SamlError::Untrusted(_))
    ));
    assert_eq!(
        verify(
            &signed,
            datetime!(2036-06-01 0:00 UTC),
            std::slice::from_ref(&national)
        )
        .unwrap_err(),
        SamlError::Expired
    );
    let tampered = signed.replacen("RSSMRA75C03F839K", "PRVMRA80A41F205X", 1);
    assert_eq!(
        verify(&tampered, now, std::slice::from_ref(&national)).unwrap_err(),
        SamlError::Digest
    );
    let start = signed.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
    let mut forged = signed.clone();
    forged.replace_range(
        start..start + 4,
        if &signed[start..start + 4] == "AAAA" {
            "BBBB"
        } else {
            "AAAA"
        },
    );
    assert_eq!(
        verify(&forged, now, std::slice::from_ref(&national)).unwrap_err(),
        SamlError::Signature
    );
    // The unsigned template (empty signature elements).
    assert!(verify(TEMPLATE, now, std::slice::from_ref(&national)).is_err());
    // xmlsec1 agrees on the tampered copy.
    std::fs::write(dir.join("tampered.xml"), &tampered).unwrap();
    let check = xmlsec1(&[
        "--verify",
        "--id-attr:ID",
        "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
        "--pubkey-cert-pem",
        &pki.cert("region-sig"),
        dir.join("tampered.xml").to_str().unwrap(),
    ]);
    assert!(!check.status.success());

    // The published INI messages were pretty-printed after signing: xmlsec1 and this
    // verifier both find the digest changed.
    for name in ["register_req.xml", "query_req.xml"] {
        let path = shared_dir()
            .join("reference/upstream/examples/wxdsb")
            .join(name);
        let xml = std::fs::read_to_string(&path).unwrap();
        let b64: String = xml
            .split("<ds:X509Certificate>")
            .nth(1)
            .unwrap()
            .split("</ds:X509Certificate>")
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(&b64)
            .unwrap();
        let signer = Certificate::from_der(der.into()).unwrap();
        assert_eq!(
            verify(&xml, datetime!(2016-03-03 15:00 UTC), &[signer]).unwrap_err(),
            SamlError::Digest,
            "{name}"
        );
        let pem = dir.join("published.pem");
        let body: Vec<String> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        std::fs::write(
            &pem,
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                body.join("\n")
            ),
        )
        .unwrap();
        let check = xmlsec1(&[
            "--verify",
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            "--pubkey-cert-pem",
            pem.to_str().unwrap(),
            path.to_str().unwrap(),
        ]);
        assert!(!check.status.success(), "{name}: xmlsec1 accepted it");
        assert!(String::from_utf8_lossy(&check.stderr).contains("data and digest do not match"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
