//! Attacks on the SOAP callers' identity, built outside the product: every signature is
//! made by xmlsec1 (the identity provider's, the operator's smart card), then the message is
//! rearranged as the literature does. Somorovsky et al., "On Breaking SAML: Be Whoever You
//! Want to Be" (USENIX Security 2012), name eight wrapping variants (XSW1–XSW8): XSW1 and
//! XSW2 wrap the *message* signature, which here is the operator's WS-Security signature
//! over `Body` and `Timestamp`; XSW3–XSW8 wrap the *assertion* signature. Then comment
//! truncation (CVE-2017-11427), shadowed `SignedInfo`, unsigned content inside the
//! signature, times that would fail open, certificates no path allows, replay.
//!
//! Every attack is refused with its fault code and counted; the service keeps answering.

use integration_tests::soap::{
    ASSERTION_SIGNATURE_TEMPLATE, Conditions, Identity, OPERATOR_CF, SIST, Timestamp, envelope,
    forged_signers, operator_signature, operator_signature_with, xmlsec_sign,
};
use integration_tests::stack::{StackOptions, TestStack, pki};
use integration_tests::xds::fault_code;

use crate::xds_repository::{envelope_of, post};

const PATIENT: &str = "RSSMRA75C03F839K";
const VICTIM: &str = "BNCLRA80A41F205X";
const SAML_ID_ATTR: [&str; 2] = [
    "--id-attr:ID",
    "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
];

async fn call(stack: &TestStack, body: String) -> (u16, String) {
    let (s, ct, bytes) = post(
        stack,
        "/aslba/IGestoreConsensoService",
        "text/xml; charset=UTF-8",
        body.into_bytes(),
    )
    .await;
    (s, envelope_of(&ct, &bytes))
}

/// `statoConsensi` of `patient`, `header` being the assertion part (the operator signs).
fn state_of(patient: &str, assertion: &str) -> String {
    envelope(
        "statoConsensi",
        &format!("<codiceFiscalePaziente>{patient}</codiceFiscalePaziente>"),
        &format!("{assertion}{}", operator_signature("operator")),
    )
}

/// The `ds:Signature` element of `xml` (the first one).
fn signature_of(xml: &str) -> &str {
    let start = xml.find("<ds:Signature").unwrap();
    let end = xml[start..].find("</ds:Signature>").unwrap() + start + "</ds:Signature>".len();
    &xml[start..end]
}

/// The `name` element of `xml` (first one, with its prefix `ds:`).
fn element<'a>(xml: &'a str, name: &str) -> &'a str {
    let start = xml.find(&format!("<ds:{name}")).unwrap();
    let close = format!("</ds:{name}>");
    let end = xml[start..].find(&close).unwrap() + start + close.len();
    &xml[start..end]
}

/// Refusals counted for the SOAP identity so far.
async fn identity_refusals(stack: &TestStack) -> usize {
    stack
        .metrics()
        .await
        .lines()
        .find(|l| l.starts_with("fsemw_producer_refusals_total{reason=\"soap_identity\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

/// Sends every case, expecting its fault; then the genuine caller is still served, and
/// every refusal was counted.
async fn all_refused(stack: &TestStack, cases: Vec<(&str, String, &str)>) {
    let before = identity_refusals(stack).await;
    let n = cases.len();
    for (what, body, code) in cases {
        let (s, a) = call(stack, body).await;
        assert_eq!(
            (s, fault_code(&a)),
            (500, format!("env:{code}")),
            "{what}: {a}"
        );
    }
    let (s, a) = call(
        stack,
        state_of(PATIENT, &Identity::new(PATIENT, "CONSENT").blocks().0),
    )
    .await;
    assert_eq!(s, 200, "the genuine caller after the attacks: {a}");
    assert_eq!(identity_refusals(stack).await, before + n);
    // The victim's consents were never served.
    let rows = stack.transactions(&format!("cf={VICTIM}")).await;
    assert!(rows.iter().all(|r| r["outcome"] == "fault"), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assertion_wrapping_truncation_and_shadowing_are_refused() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    // The attacker holds a genuine assertion for PATIENT and their own smart card, and wants
    // VICTIM's consents.
    let genuine = Identity::new(PATIENT, "CONSENT").blocks().0;
    let sig = signature_of(&genuine).to_string();
    let unsigned = genuine.replace(&sig, "");
    let evil = unsigned.replace(PATIENT, VICTIM);
    let evil_signed_copy = genuine.replace(PATIENT, VICTIM);
    let victim = |header: &str| state_of(VICTIM, header);
    let wrap = |inner: &str| format!("<x:Extensions xmlns:x=\"urn:attack\">{inner}</x:Extensions>");
    let in_object = |signature: &str, inner: &str| {
        signature.replace(
            "</ds:Signature>",
            &format!("<ds:Object>{inner}</ds:Object></ds:Signature>"),
        )
    };
    // A SignedInfo whose reference digest is the evil assertion's (xmlsec1 computes it,
    // signing with a stranger's key), hidden before the genuine SignedInfo and value.
    let evil_template = unsigned.replace(PATIENT, VICTIM).replacen(
        "</saml2:Issuer>",
        &format!("</saml2:Issuer>{ASSERTION_SIGNATURE_TEMPLATE}"),
        1,
    );
    let evil_by_stranger = xmlsec_sign(&evil_template, "producer-stranger", None, &SAML_ID_ATTR);
    let shadow = sig.replacen(
        "<ds:SignedInfo>",
        &format!(
            "<x:Wrap xmlns:x=\"urn:attack\">{}</x:Wrap><ds:SignedInfo>",
            element(&evil_by_stranger, "SignedInfo")
        ),
        1,
    );
    let shadowed = evil_by_stranger.replace(signature_of(&evil_by_stranger), &shadow);
    // Comments inside signed values: exclusive C14N drops them, so the signature still holds
    // (xmlsec1 says so below); a reader of the first text node would see a shorter value.
    let comment_in_patient = genuine.replacen(
        &format!("{PATIENT}^^^"),
        &format!("{}<!---->{}^^^", &PATIENT[..8], &PATIENT[8..]),
        1,
    );
    let (head, attributes) = genuine.split_at(genuine.find("subject:subject-id").unwrap());
    let comment_in_operator = format!(
        "{head}{}",
        attributes.replacen(
            &format!(">{OPERATOR_CF}^^^"),
            &format!(">{}<!---->{}^^^", &OPERATOR_CF[..8], &OPERATOR_CF[8..]),
            1,
        )
    );
    assert!(
        xmlsec1_verifies(&comment_in_patient, "saml-idp"),
        "the comment keeps the signature valid"
    );
    // Unsigned content inside the signature: the enveloped transform leaves it out.
    let victim_attribute = format!(
        "<saml2:AttributeStatement><saml2:Attribute Name=\"urn:oasis:names:tc:xacml:1.0:resource:resource-id\"><saml2:AttributeValue>{VICTIM}^^^&amp;2.16.840.1.113883.2.9.4.3.2&amp;ISO</saml2:AttributeValue></saml2:Attribute></saml2:AttributeStatement>"
    );
    let attribute_in_key_info = genuine.replacen(
        "<ds:X509Data>",
        &format!("{victim_attribute}<ds:X509Data>"),
        1,
    );
    // An expired assertion revived by fresh Conditions inside its signature.
    let mut expired = Identity::new(PATIENT, "CONSENT");
    expired.expired = true;
    let expired = expired.blocks().0;
    let fresh = "<saml2:Conditions NotBefore=\"2020-01-01T00:00:00Z\" NotOnOrAfter=\"2099-01-01T00:00:00Z\"/>";
    let conditions_in_object = expired.replace(
        signature_of(&expired),
        &in_object(signature_of(&expired), fresh),
    );
    let conditions_in_key_info =
        expired.replacen("<ds:X509Data>", &format!("{fresh}<ds:X509Data>"), 1);
    // The genuine assertion and an element of another namespace carrying its id.
    let foreign_id =
        format!("{genuine}<x:Decoy xmlns:x=\"urn:attack\" x:ID=\"identity-assertion\"/>");
    let decoy = evil.replacen(
        "ID=\"identity-assertion\"",
        "xmlns:x=\"urn:attack\" x:ID=\"decoy\" ID=\"identity-assertion\"",
        1,
    );
    let decoy = decoy.replacen("</saml2:Issuer>", &format!("</saml2:Issuer>{sig}"), 1);

    let cases: Vec<(&str, String, &str)> = vec![
        // XSW3: an unsigned evil assertion with the same ID before the genuine one.
        ("XSW3", victim(&format!("{evil}{genuine}")), "E000230"),
        // XSW4: the evil assertion wraps the genuine one.
        (
            "XSW4",
            victim(&evil.replacen("</saml2:Issuer>", &format!("</saml2:Issuer>{genuine}"), 1)),
            "E000230",
        ),
        // XSW5: the evil assertion carries the genuine signature; the genuine assertion,
        // signature stripped, follows.
        (
            "XSW5",
            victim(&format!("{evil_signed_copy}{unsigned}")),
            "E000230",
        ),
        // XSW6: as XSW5, the genuine assertion inside the copied signature.
        (
            "XSW6",
            victim(
                &evil_signed_copy
                    .replace(&sig.replace(PATIENT, VICTIM), &in_object(&sig, &unsigned)),
            ),
            "E000230",
        ),
        // XSW7: the genuine assertion in an extension element, the evil one beside it.
        (
            "XSW7",
            victim(&format!("{}{evil}", wrap(&genuine))),
            "E000230",
        ),
        // XSW8: the evil assertion signed with the copy, the genuine one (unsigned) in its
        // signature's Object.
        (
            "XSW8",
            victim(&evil.replacen(
                "</saml2:Issuer>",
                &format!("</saml2:Issuer>{}", in_object(&sig, &unsigned)),
                1,
            )),
            "E000230",
        ),
        // The decoy: x:ID="decoy" ID=<genuine id> with the genuine signature, before the
        // genuine assertion (signature stripped).
        (
            "decoy assertion before the signed one",
            victim(&format!("{decoy}{unsigned}")),
            "E000230",
        ),
        (
            "an element of another namespace carrying the signed id",
            victim(&foreign_id),
            "E000230",
        ),
        (
            "a second SignedInfo hidden in the signature",
            victim(&shadowed),
            "E000230",
        ),
        (
            "comment inside the patient id",
            state_of(PATIENT, &comment_in_patient),
            "E000230",
        ),
        (
            "comment inside the operator's fiscal code",
            state_of(PATIENT, &comment_in_operator),
            "E000230",
        ),
        (
            "Attribute inside ds:Object",
            victim(&genuine.replace(&sig, &in_object(&sig, &victim_attribute))),
            "E000230",
        ),
        // Inside KeyInfo it is not read: the assertion's patient stays PATIENT.
        (
            "Attribute inside ds:KeyInfo",
            victim(&attribute_in_key_info),
            "E000233",
        ),
        (
            "Conditions inside ds:Object (expired assertion)",
            state_of(PATIENT, &conditions_in_object),
            "E000230",
        ),
        (
            "Conditions inside ds:KeyInfo (expired assertion)",
            state_of(PATIENT, &conditions_in_key_info),
            "E000230",
        ),
    ];
    all_refused(&stack, cases).await;
}

/// Whether xmlsec1 verifies the assertion of `xml` with `signer`'s certificate.
fn xmlsec1_verifies(xml: &str, signer: &str) -> bool {
    let file = std::env::temp_dir().join(format!(
        "fsemw-verify-{}.xml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&file, xml).unwrap();
    let out = std::process::Command::new("xmlsec1")
        .arg("--verify")
        .args(SAML_ID_ATTR)
        .args(["--pubkey-cert-pem", &pki().cert(signer)])
        .arg(&file)
        .output()
        .expect("xmlsec1");
    let _ = std::fs::remove_file(&file);
    out.status.success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_wrapping_times_and_replay_are_refused() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let assertion = Identity::new(PATIENT, "CONSENT").blocks().0;
    // A genuine message of the operator: the patient's history (a read).
    let captured = envelope(
        "storicoConsensi",
        &format!("<codiceFiscalePaziente>{PATIENT}</codiceFiscalePaziente>"),
        &format!("{assertion}{}", operator_signature("operator")),
    );
    let body_start = captured.find("<S:Body").unwrap();
    let body_end = captured.find("</S:Body>").unwrap() + "</S:Body>".len();
    let signed_body = &captured[body_start..body_end];
    // What the attacker wants instead: the consultation consent revoked (a write).
    let evil_body = format!(
        "<S:Body><fse:revocaConsenso xmlns:fse=\"{SIST}\"><codiceFiscalePaziente>{PATIENT}</codiceFiscalePaziente><operatore><codiceFiscale>{OPERATOR_CF}</codiceFiscale></operatore><codice>C2</codice></fse:revocaConsenso></S:Body>"
    );
    let as_revoke = |xml: &str| {
        xml.replace(
            &format!("{SIST}/storicoConsensi"),
            &format!("{SIST}/revocaConsenso"),
        )
    };
    let swapped = as_revoke(&captured.replace(
        signed_body,
        &evil_body.replacen(
            "<S:Body>",
            &signed_body[..signed_body.find('>').unwrap() + 1],
            1,
        ),
    ));
    // XSW1: the signed body moved into the operator's signature (the message's last one),
    // the evil one in its place.
    let xsw1 = {
        let moved = captured.replace(signed_body, &evil_body);
        let at = moved.rfind("</ds:SignatureValue>").unwrap() + "</ds:SignatureValue>".len();
        as_revoke(&format!(
            "{}<ds:Object>{signed_body}</ds:Object>{}",
            &moved[..at],
            &moved[at..]
        ))
    };
    // XSW2: the signed body moved into a header wrapper.
    let xsw2 = as_revoke(&captured.replace(signed_body, &evil_body).replacen(
        "<S:Header>",
        &format!("<S:Header><x:Wrapper xmlns:x=\"urn:attack\">{signed_body}</x:Wrapper>"),
        1,
    ));
    let two_bodies =
        as_revoke(&captured.replace(signed_body, &format!("{evil_body}{signed_body}")));
    let with_timestamp = |t: Timestamp| {
        envelope(
            "statoConsensi",
            &format!("<codiceFiscalePaziente>{PATIENT}</codiceFiscalePaziente>"),
            &format!("{assertion}{}", operator_signature_with("operator", t)),
        )
    };
    let with_card = |card: &str| {
        let mut i = Identity::new(PATIENT, "CONSENT");
        i.card = Box::leak(card.to_string().into_boxed_str());
        envelope(
            "statoConsensi",
            &format!("<codiceFiscalePaziente>{PATIENT}</codiceFiscalePaziente>"),
            &i.header(),
        )
    };
    // The same message twice: the first is served.
    let once = with_timestamp(Timestamp::Fresh);
    let (s, a) = call(&stack, once.clone()).await;
    assert_eq!(s, 200, "{a}");

    let cases: Vec<(&str, String, &str)> = vec![
        ("Body swapped after the operator signed", swapped, "E000232"),
        ("XSW1: signed body inside the signature", xsw1, "E000232"),
        ("XSW2: signed body in a header wrapper", xsw2, "E000232"),
        ("two bodies, the evil one first", two_bodies, "E000232"),
        (
            "Timestamp without Expires",
            with_timestamp(Timestamp::WithoutExpires),
            "E000232",
        ),
        (
            "Timestamp created ten minutes ago",
            with_timestamp(Timestamp::Old),
            "E000232",
        ),
        (
            "Expires without an offset",
            with_timestamp(Timestamp::WithoutOffset),
            "E000232",
        ),
        (
            "Expires broken by a comment",
            with_timestamp(Timestamp::CommentInExpires),
            "E000232",
        ),
        ("replay of an accepted message", once, "E000232"),
        (
            "smart card expired",
            with_card("operator-expired"),
            "E000232",
        ),
        (
            "smart card revoked",
            with_card("operator-revoked"),
            "E000232",
        ),
        (
            "smart card of an unknown CA",
            with_card("operator-stranger"),
            "E000232",
        ),
    ];
    all_refused(&stack, cases).await;
    // The consent was never revoked by the swapped bodies.
    let rows = stack
        .transactions("operation=IGestoreConsensoService.revocaConsenso")
        .await;
    assert!(rows.iter().all(|r| r["outcome"] == "fault"), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assertion_signers_and_windows_no_rule_allows_are_refused() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    forged_signers();
    let with = |f: &dyn Fn(&mut Identity)| {
        let mut i = Identity::new(PATIENT, "CONSENT");
        f(&mut i);
        i.blocks().0
    };
    // Issued by the identity provider's own (non-CA) certificate, the chain in KeyInfo.
    let idp = std::fs::read_to_string(pki().cert("saml-idp")).unwrap();
    let idp: String = idp.lines().filter(|l| !l.starts_with("-----")).collect();
    let child = with(&|i| i.assertion_signer = Some("saml-idp-child")).replacen(
        "</ds:X509Certificate>",
        &format!("</ds:X509Certificate><ds:X509Certificate>{idp}</ds:X509Certificate>"),
        1,
    );
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "signer certificate expired",
            state_of(
                PATIENT,
                &with(&|i| i.assertion_signer = Some("saml-idp-expired")),
            ),
            "E000230",
        ),
        (
            "signer certificate revoked",
            state_of(
                PATIENT,
                &with(&|i| i.assertion_signer = Some("saml-idp-revoked")),
            ),
            "E000230",
        ),
        (
            "signer issued by a certificate that is not a CA",
            state_of(PATIENT, &child),
            "E000230",
        ),
        (
            "signer that is a CA",
            state_of(
                PATIENT,
                &with(&|i| i.assertion_signer = Some("saml-sub-ca")),
            ),
            "E000230",
        ),
        (
            "untrusted key carried in KeyInfo",
            state_of(
                PATIENT,
                &with(&|i| i.assertion_signer = Some("producer-stranger")),
            ),
            "E000230",
        ),
        (
            "assertion without Conditions",
            state_of(PATIENT, &with(&|i| i.conditions = Conditions::Absent)),
            "E000230",
        ),
        (
            "NotOnOrAfter without an offset",
            state_of(
                PATIENT,
                &with(&|i| i.conditions = Conditions::WithoutOffset),
            ),
            "E000230",
        ),
        (
            "window longer than allowed",
            state_of(PATIENT, &with(&|i| i.conditions = Conditions::TooLong)),
            "E000230",
        ),
    ];
    // Each refusal says why (the certificate's path, the window).
    let (_, a) = call(&stack, cases[0].1.clone()).await;
    assert!(a.contains("certificato scaduto"), "{a}");
    let (_, a) = call(&stack, cases[1].1.clone()).await;
    assert!(a.contains("certificato revocato"), "{a}");
    all_refused(&stack, cases).await;
}
