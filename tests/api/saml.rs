//! SAML identity assertions, checked against xmlsec1 (the XML-DSig reference tool): an
//! assertion xmlsec1 signs must verify here, any change to it must not; on the published
//! INI messages (pretty-printed after signing) both refuse the digest.

use std::process::Command;

use hsm::Certificate;
use hsm::{Purpose, TrustStore};
use integration_tests::shared_dir;
use integration_tests::stack::pki;
use middleware::saml::{Assertion, Policy, SamlError, verify};
use middleware::xmldsig::SignedDocument;
use time::macros::datetime;

const TEMPLATE: &str = r##"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Header><saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="_a1" IssueInstant="{issued}" Version="2.0"><saml2:Issuer>160</saml2:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#_a1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="xs"/></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></ds:Signature>
    <saml2:Subject><saml2:NameID>PROVAX00X00X000Y^^^&amp;2.16.840.1.113883.2.9.4.3.2&amp;ISO</saml2:NameID></saml2:Subject>
    <saml2:Conditions NotBefore="{from}" NotOnOrAfter="{until}"/>
    <saml2:AttributeStatement><saml2:Attribute Name="urn:oasis:names:tc:xacml:1.0:resource:resource-id" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri"><saml2:AttributeValue xsi:type="xs:string">RSSMRA75C03F839K^^^&amp;2.16.840.1.113883.2.9.4.3.2&amp;ISO</saml2:AttributeValue></saml2:Attribute>
    <saml2:Attribute Name="urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"><saml2:AttributeValue xsi:type="xs:string">TREATMENT</saml2:AttributeValue></saml2:Attribute></saml2:AttributeStatement></saml2:Assertion></soap:Header><soap:Body/></soap:Envelope>"##;

/// Verifies `xml` at `now` trusting `trusted` (none: an empty store), windows up to 12 h.
fn check(
    xml: &str,
    now: time::OffsetDateTime,
    trusted: &[Certificate],
) -> Result<Assertion, SamlError> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let store = if trusted.is_empty() {
        TrustStore::empty(Purpose::Signature)
    } else {
        TrustStore::new(Purpose::Signature, trusted, &[], false, "test").unwrap()
    };
    verify(
        &SignedDocument::new(xml, &doc),
        &Policy {
            signers: &store,
            now,
            skew: time::Duration::ZERO,
            max_lifetime: time::Duration::hours(12),
        },
    )
}

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
    // A window of ten hours around now (the dev certificates were made today).
    let now = time::OffsetDateTime::now_utc();
    let at = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let unsigned = TEMPLATE
        .replace("{issued}", &at(now - time::Duration::hours(2)))
        .replace("{from}", &at(now - time::Duration::hours(2)))
        .replace("{until}", &at(now + time::Duration::hours(8)));
    std::fs::write(&template, &unsigned).unwrap();
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
    let a = check(&signed, now, std::slice::from_ref(&national)).expect("signed by xmlsec1");
    assert_eq!(a.issuer, "160");
    assert_eq!(
        a.subject,
        "PROVAX00X00X000Y^^^&2.16.840.1.113883.2.9.4.3.2&ISO"
    );
    assert_eq!(
        a.single("urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"),
        Ok(Some("TREATMENT"))
    );
    assert!(a.signer.subject_cn().starts_with("S1#160#"));
    // Trust, validity, content, signature.
    assert!(matches!(
        check(&signed, now, &[]),
        Err(SamlError::Untrusted { .. })
    ));
    assert_eq!(
        check(
            &signed,
            now + time::Duration::hours(9),
            std::slice::from_ref(&national)
        )
        .unwrap_err(),
        SamlError::Expired
    );
    let tampered = signed.replacen("RSSMRA75C03F839K", "PRVMRA80A41F205X", 1);
    assert_eq!(
        check(&tampered, now, std::slice::from_ref(&national)).unwrap_err(),
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
        check(&forged, now, std::slice::from_ref(&national)).unwrap_err(),
        SamlError::Signature
    );
    // The unsigned template (empty signature elements).
    assert!(check(&unsigned, now, std::slice::from_ref(&national)).is_err());
    // xmlsec1 agrees on the tampered copy.
    std::fs::write(dir.join("tampered.xml"), &tampered).unwrap();
    let checked = xmlsec1(&[
        "--verify",
        "--id-attr:ID",
        "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
        "--pubkey-cert-pem",
        &pki.cert("region-sig"),
        dir.join("tampered.xml").to_str().unwrap(),
    ]);
    assert!(!checked.status.success());

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
        assert_eq!(
            check(&xml, datetime!(2016-03-03 15:00 UTC), &[]).unwrap_err(),
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
        let checked = xmlsec1(&[
            "--verify",
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            "--pubkey-cert-pem",
            pem.to_str().unwrap(),
            path.to_str().unwrap(),
        ]);
        assert!(!checked.status.success(), "{name}: xmlsec1 accepted it");
        assert!(String::from_utf8_lossy(&checked.stderr).contains("data and digest do not match"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
