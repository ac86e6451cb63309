//! An independent SOAP client, zeep (PyPI), loads our WSDLs for two ASLs and calls every
//! operation of the three services, plus fault paths (`ops/soap/zeep_client.py`).

use std::path::PathBuf;
use std::process::Command;

use integration_tests::soap::{Identity, OPERATOR_CF};
use integration_tests::stack::{StackOptions, TestStack, pki};
use integration_tests::testdata;
use integration_tests::xds::EntrySpec;

use crate::LAB_OK;
use crate::soap_document::provide;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeep_consumes_every_wsdl_and_operation() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let unique = "2.16.840.1.113883.2.9.2.160.4.4^ZEEP-1";
    provide(
        &stack,
        EntrySpec::lab("Document01", unique),
        "2.16.840.1.113883.2.9.2.160.4.3.4242",
        &testdata(LAB_OK),
    )
    .await;
    // The assertion a caller holds and its smart card, one pair of files per identity.
    let headers =
        std::env::temp_dir().join(format!("fsemw-zeep-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&headers).unwrap();
    let patient = "RSSMRA75C03F839K";
    let signed_lab_patient = "PROVAX00X00X000Y";
    let mut wrong_card = Identity::new(patient, "CONSENT");
    wrong_card.card = "operator-other";
    let mut expired = Identity::new(patient, "CONSENT");
    expired.expired = true;
    for (name, identity) in [
        ("consent", Identity::new(patient, "CONSENT")),
        ("treatment", Identity::new(patient, "TREATMENT")),
        ("personal", Identity::new(patient, "PERSONAL")),
        ("publish", Identity::new(signed_lab_patient, "TREATMENT")),
        ("update", Identity::new(signed_lab_patient, "UPDATE")),
        ("wrong-card", wrong_card),
        ("expired", expired),
    ] {
        std::fs::write(headers.join(format!("{name}.xml")), identity.blocks().0).unwrap();
        let card = format!("{} {}", pki().key(identity.card), pki().cert(identity.card));
        std::fs::write(headers.join(format!("{name}.card")), card).unwrap();
    }
    let signed_pdf = headers.join("signed-lab.pdf");
    std::fs::write(&signed_pdf, crate::signed_lab()).unwrap();
    let python = integration_tests::py_tools().join("bin/python");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ops/soap/zeep_client.py");
    let base = stack.mw_url.trim_end_matches("/v1").to_string();
    let pki = pki();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(base)
            .arg(pki.cert("ca-bundle"))
            .arg(pki.cert("producer"))
            .arg(pki.key("producer"))
            .arg(unique)
            .arg(&headers)
            .arg(OPERATOR_CF)
            .arg(&signed_pdf)
            .args(["aslba", "aslbt"])
            .output()
            .expect("zeep client")
    })
    .await
    .unwrap();
    let text = integration_tests::printed(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("zeep: 42 calls on 2 ASLs behaved as expected"),
        "{text}"
    );
}
