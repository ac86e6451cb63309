//! IGestoreConsensoService per ASL: consents recorded with their history, effective at
//! once for consultation; SOAP 1.1 faults with the SIST code shape.

use integration_tests::soap::{Identity, OPERATOR_CF as OPERATOR, SIST};
use integration_tests::stack::{PRODUCER_CN, StackOptions, TestStack};
use integration_tests::xds::{fault_code, split_multipart};

const PATIENT: &str = "RSSMRA75C03F839K";

fn envelope(operation: &str, inner: &str) -> String {
    integration_tests::soap::envelope(
        operation,
        inner,
        &Identity::new(PATIENT, "CONSENT").header(),
    )
}

fn operator() -> String {
    format!("<operatore><codiceFiscale>{OPERATOR}</codiceFiscale><ruolo>AAS</ruolo></operatore>")
}

fn consent(code: &str, value: bool) -> String {
    format!("<consenso><codice>{code}</codice><valore>{value}</valore></consenso>")
}

/// (HTTP status, transaction id, body).
async fn call(stack: &TestStack, asl: &str, body: String) -> (u16, String, String) {
    let base = stack.mw_url.trim_end_matches("/v1");
    let r = stack
        .client(Some("producer"))
        .post(format!("{base}/{asl}/IGestoreConsensoService"))
        .header("content-type", "text/xml; charset=UTF-8")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let tx = r
        .headers()
        .get("x-transaction-id")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = r.bytes().await.unwrap();
    let text = if ct.starts_with("multipart/") {
        split_multipart(&ct, &bytes).0
    } else {
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    (status, tx, text)
}

fn allowed(answer: &str) -> bool {
    answer.contains("<consultazioneConsentita>true</consultazioneConsentita>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consents_are_recorded_revoked_and_listed_with_their_history() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let (s, tx, a) = call(
        &stack,
        "aslba",
        envelope(
            "registraConsensi",
            &format!(
                "<codiceFiscalePaziente>{PATIENT}</codiceFiscalePaziente>{}{}{}",
                operator(),
                consent("C1", true),
                consent("C2", true)
            ),
        ),
    )
    .await;
    assert_eq!(s, 200, "{a}");
    assert!(
        a.contains(&format!("{SIST}/registraConsensiResponse")),
        "{a}"
    );
    assert!(a.contains("<esito>OK</esito>") && allowed(&a), "{a}");
    assert!(!tx.is_empty());
    // The state answers who recorded it, from which application and ASL.
    let (_, _, state) = call(
        &stack,
        "aslbt",
        envelope(
            "statoConsensi",
            &format!("<codiceFiscalePaziente>{PATIENT}</codiceFiscalePaziente>"),
        ),
    )
    .await;
    assert_eq!(state.matches("<consenso>").count(), 2, "{state}");
    assert!(state.contains(&format!("<applicazione>{PRODUCER_CN}</applicazione>")));
    assert!(
        state.contains("<asl>aslba</asl>")
            && state.contains(&format!("<codiceFiscale>{OPERATOR}</codiceFiscale>"))
    );
    assert!(allowed(&state));
    // Revoking consultation takes effect at once.
    let (s, _, a) = call(
        &stack,
        "aslbt",
        envelope(
            "revocaConsenso",
            &format!(
                "<codiceFiscalePaziente>{PATIENT}</codiceFiscalePaziente>{}<codice>C2</codice>",
                operator()
            ),
        ),
    )
    .await;
    assert_eq!(s, 200, "{a}");
    assert!(!allowed(&a), "{a}");
    // Granted again, then an objection (C4) wins over it.
    let (_, _, a) = call(
        &stack,
        "aslba",
        envelope(
            "registraConsensi",
            &format!(
                "<codiceFiscalePaziente>{PATIENT}</codiceFiscalePaziente>{}{}",
                operator(),
                consent("C2", true)
            ),
        ),
    )
    .await;
    assert!(allowed(&a), "{a}");
    let (_, _, a) = call(
        &stack,
        "aslba",
        envelope(
            "registraConsensi",
            &format!(
                "<codiceFiscalePaziente>{PATIENT}</codiceFiscalePaziente>{}{}",
                operator(),
                consent("C4", true)
            ),
        ),
    )
    .await;
    assert!(!allowed(&a), "{a}");
    // The full history, oldest first, with the ASL of each change.
    let (_, _, history) = call(
        &stack,
        "aslba",
        envelope(
            "storicoConsensi",
            &format!("<codiceFiscalePaziente>{PATIENT}</codiceFiscalePaziente>"),
        ),
    )
    .await;
    let codes: Vec<&str> = history.split("<codice>").skip(1).map(|s| &s[..2]).collect();
    assert_eq!(codes, ["C1", "C2", "C2", "C2", "C4"], "{history}");
    assert!(history.contains("<asl>aslbt</asl>"));
    // Audited like REST calls, with the patient hashed.
    let rows = stack.transactions(&format!("id={tx}")).await;
    assert_eq!(
        rows[0]["operation"],
        "IGestoreConsensoService.registraConsensi"
    );
    assert_eq!(rows[0]["outcome"], "success");
    assert!(rows[0]["patient_cf_hmac"].is_string());
    assert!(stack.transactions(&format!("cf={PATIENT}")).await.len() >= 6);
    let metrics = stack.metrics().await;
    assert!(
        metrics.contains("fsemw_soap_calls_total{operation=\"IGestoreConsensoService.registraConsensi\",outcome=\"success\"} 3"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_consent_requests_get_faults() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    for (body, code) in [
        (
            envelope(
                "registraConsensi",
                &format!(
                    "<codiceFiscalePaziente>{PATIENT}</codiceFiscalePaziente>{}{}",
                    operator(),
                    consent("C9", true)
                ),
            ),
            "env:E000102",
        ),
        (envelope("statoConsensi", ""), "env:E000101"),
        (
            envelope(
                "statoConsensi",
                "<codiceFiscalePaziente>NOTACF</codiceFiscalePaziente>",
            ),
            "env:E000103",
        ),
        (
            envelope(
                "registraConsensi",
                &format!(
                    "<codiceFiscalePaziente>{PATIENT}</codiceFiscalePaziente>{}",
                    consent("C2", true)
                ),
            ),
            "env:E000101",
        ),
        (
            envelope(
                "cancellaTutto",
                &format!("<codiceFiscalePaziente>{PATIENT}</codiceFiscalePaziente>"),
            ),
            "env:E000100",
        ),
    ] {
        let (s, _, a) = call(&stack, "aslba", body).await;
        // SOAP 1.1 over HTTP: every fault is a 500.
        assert_eq!((s, fault_code(&a)), (500, code.to_string()), "{a}");
    }
    // Attack inputs: external entity, nesting beyond the limit, oversize.
    let xxe = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body>&e;</S:Body></S:Envelope>".to_string();
    let deep = envelope(
        "statoConsensi",
        &format!("{}{}", "<x>".repeat(100), "</x>".repeat(100)),
    );
    for body in [xxe, deep] {
        let (s, _, a) = call(&stack, "aslba", body).await;
        assert_eq!(s, 500, "{a}");
        assert!(a.contains("<faultcode>") && !a.contains("root:"), "{a}");
    }
    let huge = envelope("statoConsensi", &"x".repeat(6 * 1024 * 1024));
    let (s, _, _) = call(&stack, "aslba", huge).await;
    assert_eq!(s, 500);
    // An ASL that is not configured has no such service.
    let (s, _, _) = call(&stack, "aslxx", envelope("statoConsensi", "")).await;
    assert_eq!(s, 404);
    // No client certificate.
    let base = stack.mw_url.trim_end_matches("/v1");
    let r = stack
        .client(None)
        .post(format!("{base}/aslba/IGestoreConsensoService"))
        .body(envelope(
            "statoConsensi",
            &format!("<codiceFiscalePaziente>{PATIENT}</codiceFiscalePaziente>"),
        ))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(text.contains("wsse:FailedAuthentication"), "{text}");
    // One WSDL per ASL, with its own address.
    for asl in ["aslba", "aslbt"] {
        let wsdl = stack.wsdl(&format!("/{asl}/IGestoreConsensoService")).await;
        assert!(
            wsdl.contains(&format!("/{asl}/IGestoreConsensoService\"")),
            "{wsdl}"
        );
        roxmltree::Document::parse(&wsdl).expect("well-formed WSDL");
    }
}
