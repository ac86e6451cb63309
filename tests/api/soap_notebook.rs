//! ITaccuinoService: the patient's notebook — add, list, read, delete entries and
//! personal documents.

use base64::Engine;
use integration_tests::soap::Identity;
use integration_tests::stack::{StackOptions, TestStack};
use integration_tests::xds::fault_code;

use crate::xds_repository::{envelope_of, post};

const CF: &str = "RSSMRA75C03F839K";

fn envelope(operation: &str, inner: &str) -> String {
    integration_tests::soap::envelope(
        operation,
        &format!("<codiceFiscalePaziente>{CF}</codiceFiscalePaziente>{inner}"),
        &Identity::new(CF, "PERSONAL").header(),
    )
}

async fn call(stack: &TestStack, asl: &str, operation: &str, inner: &str) -> (u16, String) {
    let (s, ct, bytes) = post(
        stack,
        &format!("/{asl}/ITaccuinoService"),
        "text/xml; charset=UTF-8",
        envelope(operation, inner).into_bytes(),
    )
    .await;
    (s, envelope_of(&ct, &bytes))
}

fn ids(answer: &str) -> Vec<i64> {
    answer
        .split("<idVoce>")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notebook_entries_and_documents() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let (s, a) = call(&stack, "aslba", "setVoce", "<tipo>rilevazione</tipo><data>2026-11-20</data><testo>pressione</testo><valore>120/80</valore><unita>mmHg</unita>").await;
    assert_eq!(s, 200, "{a}");
    let measurement = ids(&a)[0];
    let (_, a) = call(
        &stack,
        "aslbt",
        "setVoce",
        "<tipo>sintomo</tipo><testo>cefalea</testo>",
    )
    .await;
    let symptom = ids(&a)[0];
    let doc = b"%PDF-1.4 referto personale".to_vec();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&doc);
    let (s, a) = call(&stack, "aslba", "setDocumento", &format!("<titolo>Visita privata</titolo><mimeType>application/pdf</mimeType><documento>{b64}</documento>")).await;
    assert_eq!(s, 200, "{a}");
    let document = ids(&a)[0];
    // List all, and by type.
    let (_, all) = call(&stack, "aslba", "getVoci", "").await;
    let mut listed = ids(&all);
    listed.sort();
    assert_eq!(listed, [measurement, symptom, document], "{all}");
    assert!(all.contains("<valore>120/80</valore>") && all.contains("<unita>mmHg</unita>"));
    let (_, only) = call(&stack, "aslba", "getVoci", "<tipo>sintomo</tipo>").await;
    assert_eq!(ids(&only), [symptom], "{only}");
    // Read the document back, bytes identical.
    let (_, read) = call(
        &stack,
        "aslbt",
        "getVoce",
        &format!("<idVoce>{document}</idVoce>"),
    )
    .await;
    let got = read.split("<documento>").nth(1).unwrap();
    let got = base64::engine::general_purpose::STANDARD
        .decode(&got[..got.find('<').unwrap()])
        .unwrap();
    assert_eq!(got, doc);
    assert!(read.contains("<titolo>Visita privata</titolo>"));
    // Delete: gone from the lists, and a second delete is refused.
    let (s, _) = call(
        &stack,
        "aslba",
        "cancellaVoce",
        &format!("<idVoce>{symptom}</idVoce>"),
    )
    .await;
    assert_eq!(s, 200);
    let (_, after) = call(&stack, "aslba", "getVoci", "").await;
    assert!(!ids(&after).contains(&symptom), "{after}");
    let (s, a) = call(
        &stack,
        "aslba",
        "cancellaVoce",
        &format!("<idVoce>{symptom}</idVoce>"),
    )
    .await;
    assert_eq!((s, fault_code(&a)), (500, "env:E000107".to_string()), "{a}");
    // Bad input.
    let (_, a) = call(&stack, "aslba", "setVoce", "<tipo>hobby</tipo>").await;
    assert_eq!(fault_code(&a), "env:E000105", "{a}");
    let (_, a) = call(
        &stack,
        "aslba",
        "setDocumento",
        "<titolo>x</titolo><mimeType>application/pdf</mimeType><documento>@@@</documento>",
    )
    .await;
    assert_eq!(fault_code(&a), "env:E000104", "{a}");
    let (_, a) = call(&stack, "aslba", "getVoce", "<idVoce>abc</idVoce>").await;
    assert_eq!(fault_code(&a), "env:E000104", "{a}");
    let rows = stack.transactions(&format!("cf={CF}")).await;
    assert!(
        rows.iter()
            .any(|r| r["operation"] == "ITaccuinoService.setDocumento"),
        "{rows:?}"
    );
}
