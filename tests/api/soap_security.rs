//! Who may call the SOAP services: every way of getting the SAML identity assertion or
//! the operator's smart-card signature wrong is a fault with its code, counted, and the
//! service keeps answering; XML attacks are faults too.

use integration_tests::soap::{Identity, SOAP12, envelope, envelope_in};
use integration_tests::stack::{StackOptions, TestStack};
use integration_tests::xds::fault_code;

use crate::xds_repository::{envelope_of, post};

const PATIENT: &str = "RSSMRA75C03F839K";
const OTHER_PATIENT: &str = "BNCLRA80A41F205X";

fn state_of(patient: &str, header: &str) -> String {
    envelope(
        "statoConsensi",
        &format!("<codiceFiscalePaziente>{patient}</codiceFiscalePaziente>"),
        header,
    )
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_and_smart_card_are_required() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let good = Identity::new(PATIENT, "CONSENT");
    let (s, a) = call(&stack, state_of(PATIENT, &good.header())).await;
    assert_eq!(s, 200, "{a}");

    let (assertion, security) = good.blocks();
    let with = |f: &dyn Fn(&mut Identity)| {
        let mut i = good.clone();
        f(&mut i);
        i.header()
    };
    // The assertion changed after signing: another patient put in its place.
    let tampered = good.header().replace(PATIENT, OTHER_PATIENT);
    let cases: Vec<(&str, String, String)> = vec![
        ("no header", state_of(PATIENT, ""), "env:E000230".into()),
        (
            "unsigned assertion",
            state_of(PATIENT, &with(&|i| i.assertion_signer = None)),
            "env:E000230".into(),
        ),
        (
            "expired assertion",
            state_of(PATIENT, &with(&|i| i.expired = true)),
            "env:E000230".into(),
        ),
        (
            "assertion signed by an untrusted certificate",
            state_of(PATIENT, &with(&|i| i.assertion_signer = Some("operator"))),
            "env:E000230".into(),
        ),
        (
            "tampered assertion",
            state_of(OTHER_PATIENT, &tampered),
            "env:E000230".into(),
        ),
        (
            "wrong smart-card CF",
            state_of(PATIENT, &with(&|i| i.card = "operator-other")),
            "env:E000231".into(),
        ),
        (
            "smart card from an unknown CA",
            state_of(PATIENT, &with(&|i| i.card = "operator-stranger")),
            "env:E000232".into(),
        ),
        (
            "no operator signature",
            state_of(PATIENT, &assertion),
            "env:E000232".into(),
        ),
        (
            "operator signature without assertion",
            state_of(PATIENT, &security),
            "env:E000230".into(),
        ),
        (
            "another patient than the assertion's",
            state_of(OTHER_PATIENT, &good.header()),
            "env:E000233".into(),
        ),
        (
            "purpose not allowed",
            state_of(PATIENT, &with(&|i| i.purpose = "SYSADMIN".into())),
            "env:E000234".into(),
        ),
        (
            "organisation not accepted",
            state_of(PATIENT, &with(&|i| i.organisation = "030".into())),
            "env:E000235".into(),
        ),
        (
            "operator in the request is not the card's",
            envelope(
                "registraConsensi",
                &format!(
                    "<codiceFiscalePaziente>{PATIENT}</codiceFiscalePaziente><operatore><codiceFiscale>VRDGPP70A01A662X</codiceFiscale></operatore><consenso><codice>C2</codice><valore>true</valore></consenso>"
                ),
                &good.header(),
            ),
            "env:E000231".into(),
        ),
    ];
    let refused = cases.len();
    for (what, body, code) in cases {
        let (s, a) = call(&stack, body).await;
        assert_eq!((s, fault_code(&a)), (500, code), "{what}: {a}");
    }
    // The observed wording of E000231.
    let (_, a) = call(
        &stack,
        state_of(PATIENT, &with(&|i| i.card = "operator-other")),
    )
    .await;
    assert!(
        a.contains("<faultstring>Il codice fiscale della smart card non corrisponde a quello dell'operatore.</faultstring>"),
        "{a}"
    );
    // The observed fault headers: WS-A action of the interface and operation, RelatesTo.
    assert!(
        a.contains("/IGestoreConsenso/statoConsensi/Fault/SOAPFaultException</Action>")
            && a.contains("<RelatesTo xmlns=\"http://www.w3.org/2005/08/addressing\">uuid:"),
        "{a}"
    );
    // Nothing of the refused consent was recorded; the service still answers.
    let (s, a) = call(&stack, state_of(PATIENT, &good.header())).await;
    assert_eq!(s, 200, "{a}");
    assert!(!a.contains("<consenso>"), "{a}");
    let metrics = stack.metrics().await;
    let counted = metrics
        .lines()
        .find(|l| l.starts_with("fsemw_producer_refusals_total{reason=\"soap_identity\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_default();
    // Every refusal above, and the one that checked the wording.
    assert_eq!(counted, refused + 1, "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_attacks_are_faults() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let header = Identity::new(PATIENT, "CONSENT").header();
    let bomb = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">{}]><S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body>&lol9;</S:Body></S:Envelope>",
        (1..10)
            .map(|i| format!(
                "<!ENTITY lol{i} \"{}\">",
                format!(
                    "&lol{};",
                    if i == 1 {
                        String::new()
                    } else {
                        (i - 1).to_string()
                    }
                )
                .repeat(10)
            ))
            .collect::<String>()
    );
    let xxe = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body>&e;</S:Body></S:Envelope>".to_string();
    let deep = envelope(
        "statoConsensi",
        &format!("{}{}", "<x>".repeat(100), "</x>".repeat(100)),
        &header,
    );
    let huge = envelope("statoConsensi", &"x".repeat(6 * 1024 * 1024), &header);
    for (what, body) in [("bomb", bomb), ("xxe", xxe), ("deep", deep), ("huge", huge)] {
        let (s, a) = call(&stack, body).await;
        assert_eq!(s, 500, "{what}: {a}");
        assert!(
            a.contains("<faultcode>") && !a.contains("root:") && !a.contains("lollol"),
            "{what}: {a}"
        );
    }
    let (s, a) = call(&stack, state_of(PATIENT, &header)).await;
    assert_eq!(s, 200, "{a}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soap_12_is_answered_in_soap_12() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let v12 = |header: &str| {
        envelope_in(
            SOAP12,
            "statoConsensi",
            &format!("<codiceFiscalePaziente>{PATIENT}</codiceFiscalePaziente>"),
            header,
        )
    };
    let send = |body: String| {
        let stack = &stack;
        async move {
            let (s, ct, bytes) = post(
                stack,
                "/aslba/IGestoreConsensoService",
                "application/soap+xml; charset=UTF-8",
                body.into_bytes(),
            )
            .await;
            let text = envelope_of(&ct, &bytes);
            (s, ct, text)
        }
    };
    let good = Identity::new(PATIENT, "CONSENT");
    let (s, ct, a) = send(v12(&good.header())).await;
    assert_eq!(s, 200, "{a}");
    assert!(ct.starts_with("application/soap+xml"), "{ct}");
    assert!(a.contains("http://www.w3.org/2003/05/soap-envelope") && a.contains("esitoConsensi"));
    let mut wrong = good.clone();
    wrong.card = "operator-other";
    let (s, _, a) = send(v12(&wrong.header())).await;
    assert_eq!(s, 400, "{a}");
    assert!(
        a.contains(
            "<soap:Value>soap:Sender</soap:Value><soap:Subcode><soap:Value>env:E000231</soap:Value>"
        ),
        "{a}"
    );
    // Both bindings are described.
    let wsdl = stack.wsdl("/aslba/IGestoreConsensoService").await;
    assert!(
        wsdl.contains("<soap12:binding") && wsdl.contains("<soap:binding"),
        "{wsdl}"
    );
}
