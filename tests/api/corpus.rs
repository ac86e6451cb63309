//! The whole pipeline (extraction, XSD, schematron, vocabulary) over every document in
//! `shared/testdata/cda` and `shared/testdata/pdf`: each gets the gateway's status and
//! error class. Semantic outcomes are tied to the independent engine: every assert code
//! pyschematron recorded for the document (`tests/golden/schematron`) appears in the
//! `detail`, and a document that passes has no failed assert there.

use std::path::Path;

use cda_validation::engine::Rules;
use cda_validation::stage::ValidatorVerdict;
use cda_validation::verdict::{Verdict, judge};
use gateway_contract::cda::{CdaFacts, ExtractionMode};
use integration_tests::shared_dir;
use serde_json::Value;

/// `(document, status for `activity=VALIDATION` without a mode, type or "ok")`. Where the reference is silent the
/// outcome is the one the schematron peer and the XSD agree on; see docs/validation.md.
const EXPECTED: &[(&str, u16, &str)] = &[
    // UTF-16 copies of a LAB document whose organizations have Home telecoms (ERRORE-45).
    ("cda/encoding/CDA-utf-16-BE.xml", 422, "/msg/semantic"),
    ("cda/encoding/CDA-utf-16-LE.xml", 422, "/msg/semantic"),
    ("cda/examples/CERT_VACC.xml", 201, "ok"),
    ("cda/examples/LAB.xml", 201, "ok"),
    ("cda/examples/LDO.xml", 201, "ok"),
    ("cda/examples/PSS.xml", 201, "ok"),
    ("cda/examples/RAD.xml", 201, "ok"),
    ("cda/examples/RAP.xml", 201, "ok"),
    ("cda/examples/RSA.xml", 201, "ok"),
    ("cda/examples/SING_VACC.xml", 201, "ok"),
    ("cda/examples/VPS.xml", 422, "/msg/semantic"),
    ("cda/validator/ko/LAB_Errore_6.xml", 422, "/msg/semantic"),
    // Passes the rules; HL7 ActPriority v2.3.0 is not a managed version (only 2.1.0).
    (
        "cda/validator/ko/LAB_inconsistency_cs.xml",
        400,
        "/msg/vocabulary",
    ),
    (
        "cda/validator/lab_schematron_error/LAB_Errore_10_11.xml",
        422,
        "/msg/semantic",
    ),
    (
        "cda/validator/lab_schematron_error/LAB_Errore_34_35.xml",
        422,
        "/msg/semantic",
    ),
    (
        "cda/validator/lab_schematron_error/LAB_Errore_37.xml",
        422,
        "/msg/semantic",
    ),
    (
        "cda/validator/lab_schematron_error/LAB_Errore_38.xml",
        422,
        "/msg/semantic",
    ),
    (
        "cda/validator/lab_schematron_error/LAB_Errore_39.xml",
        422,
        "/msg/semantic",
    ),
    // Its first templateId root (2.16.840.1.113883.2.9.10) has no schematron.
    (
        "cda/validator/lab_schematron_error/LAB_Errore_3_4.xml",
        422,
        "/msg/semantic",
    ),
    (
        "cda/validator/lab_schematron_error/LAB_Errore_40.xml",
        422,
        "/msg/semantic",
    ),
    (
        "cda/validator/lab_schematron_error/LAB_Errore_41.xml",
        422,
        "/msg/semantic",
    ),
    (
        "cda/validator/lab_schematron_error/LAB_Errore_43_44.xml",
        422,
        "/msg/semantic",
    ),
    (
        "cda/validator/lab_schematron_error/LAB_Errore_45.xml",
        422,
        "/msg/semantic",
    ),
    (
        "cda/validator/lab_schematron_error/LAB_Errore_46.xml",
        422,
        "/msg/semantic",
    ),
    (
        "cda/validator/lab_schematron_error/LAB_Errore_48.xml",
        422,
        "/msg/semantic",
    ),
    (
        "cda/validator/lab_schematron_error/LAB_Errore_7.xml",
        422,
        "/msg/semantic",
    ),
    (
        "cda/validator/lab_schematron_error/LAB_Errore_9.xml",
        422,
        "/msg/semantic",
    ),
    // The validator's "ok" documents predate ERRORE-45 (LAB 27.1).
    (
        "cda/validator/ok/LAB_Esempio_CDA_001.xml",
        422,
        "/msg/semantic",
    ),
    // typeId/@extension 1.3: no schema set.
    (
        "cda/validator/ok/LAB_Esempio_CDA_002.xml",
        400,
        "/msg/syntax",
    ),
    (
        "cda/validator/ok/LAB_Esempio_CDA_003.xml",
        422,
        "/msg/semantic",
    ),
    ("cda/validator/ok/LAB_v6_OK.xml", 422, "/msg/semantic"),
    // No CDA in either place.
    ("pdf/Test.pdf", 400, "/msg/cda-element"),
    (
        "pdf/accreditamento/SIGNED_CERT_VACC1.pdf",
        422,
        "/msg/semantic",
    ),
    ("pdf/accreditamento/SIGNED_LAB1.pdf", 422, "/msg/semantic"),
    ("pdf/accreditamento/SIGNED_PSS1.pdf", 422, "/msg/semantic"),
    ("pdf/accreditamento/SIGNED_RAD1.pdf", 201, "ok"),
    ("pdf/accreditamento/SIGNED_RSA1.pdf", 201, "ok"),
    // Code `[COD_RISCHIO]`, a template placeholder left in the sample.
    (
        "pdf/accreditamento/SIGNED_SING_VACC1.pdf",
        400,
        "/msg/vocabulary",
    ),
    ("pdf/accreditamento/SIGNED_VPS1.pdf", 422, "/msg/semantic"),
    // `@2.16.840.1.113883.2.9.4.1.1@` placeholders are not valid uids.
    ("pdf/attachment/CDA_MAP.pdf", 400, "/msg/syntax"),
    // The attachment is named `cda1.xml`.
    ("pdf/attachment/CDA_OK_SIGNED.pdf", 400, "/msg/cda-element"),
    ("pdf/attachment/LAB_OK.pdf", 422, "/msg/semantic"),
    ("pdf/attachment/LDO_OK.pdf", 422, "/msg/semantic"),
    ("pdf/attachment/RAD_KO.pdf", 422, "/msg/semantic"),
    ("pdf/attachment/RAD_OK.pdf", 422, "/msg/semantic"),
    ("pdf/attachment/RSA_OK.pdf", 422, "/msg/semantic"),
    ("pdf/attachment/SIGNED_LDO1.pdf", 201, "ok"),
    ("pdf/attachment/VPS_OK.pdf", 422, "/msg/semantic"),
    // A regional letter type (template root 2.16.840.1.113883.2.9.2.80.3.1.10.4).
    (
        "pdf/attachment/pdf_msg_SATLED_LED_Lettera_di_Dimissione.pdf",
        422,
        "/msg/semantic",
    ),
    ("pdf/resource/CDA_RESOURCE.pdf", 422, "/msg/semantic"),
];

fn documents(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            documents(&p, base, out);
        } else if p.extension().is_some_and(|x| x == "xml" || x == "pdf") {
            out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
        }
    }
}

fn class(v: &Verdict) -> (u16, String) {
    let kind = v.body["type"].as_str().unwrap_or("ok").to_string();
    (v.status.as_u16(), kind)
}

fn golden_failed(doc: &str) -> Option<Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("golden/schematron")
        .join(format!("{}.json", doc.replace('/', "__")));
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).unwrap();
    Some(
        golden["failed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect(),
    )
}

/// Whether `detail` carries the message of assert `code` (`CODE|` or `CODE |`).
fn carries(detail: &str, code: &str) -> bool {
    detail.contains(&format!("{code}|")) || detail.contains(&format!("{code} |"))
}

#[test]
fn every_shared_document_gets_the_gateways_class() {
    let testdata = shared_dir().join("testdata");
    let rules = Rules::load(&testdata).unwrap();
    let mut found = Vec::new();
    for sub in ["cda", "pdf"] {
        documents(&testdata.join(sub), &testdata, &mut found);
    }
    found.sort();
    let listed: Vec<String> = EXPECTED.iter().map(|e| e.0.to_string()).collect();
    assert_eq!(found, listed, "a shared document without an expectation");

    let mut problems = Vec::new();
    for (doc, status, kind) in EXPECTED {
        let bytes = std::fs::read(testdata.join(doc)).unwrap();
        let verdict = judge(&rules, &bytes, None, true);
        let got = class(&verdict);
        if got != (*status, kind.to_string()) {
            problems.push(format!("{doc}: {got:?}, expected ({status}, {kind})"));
            continue;
        }
        let detail = verdict.body["detail"].as_str().unwrap_or_default();
        match (golden_failed(doc), *kind) {
            (Some(failed), "ok") if !failed.is_empty() => {
                problems.push(format!("{doc}: passes, pyschematron failed {failed:?}"))
            }
            (Some(failed), "/msg/semantic") => {
                if failed.is_empty() {
                    problems.push(format!("{doc}: semantic error, pyschematron none"));
                }
                // Every text bracketed, as the validator prints a Java list (review S12).
                if !(detail.starts_with('[') && detail.ends_with(']')) {
                    problems.push(format!("{doc}: semantic texts not bracketed: {detail}"));
                }
                for code in failed.iter().filter(|c| !carries(detail, c)) {
                    problems.push(format!("{doc}: {code} missing from the detail"));
                }
            }
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn both_injection_modes_extract_and_the_wrong_mode_does_not() {
    let testdata = shared_dir().join("testdata");
    let rules = Rules::load(&testdata).unwrap();
    let read = |rel: &str| std::fs::read(testdata.join(rel)).unwrap();
    let rad = read("pdf/accreditamento/SIGNED_RAD1.pdf");
    let attached = judge(&rules, &rad, Some(ExtractionMode::Attachment), true);
    assert_eq!(attached.status.as_u16(), 201, "{}", attached.body);
    // With the mode given there is no extraction warning, only the signature one.
    let warning = attached.body["warning"].as_str().unwrap();
    assert!(warning.contains("SIGN_WARN"), "{warning}");
    assert!(!warning.contains("WARNING_EXTRACT"), "{warning}");
    let wrong = judge(&rules, &rad, Some(ExtractionMode::Resource), true);
    assert_eq!(class(&wrong), (400, "/msg/cda-element".to_string()));

    let resource = read("pdf/resource/CDA_RESOURCE.pdf");
    let by_resource = judge(&rules, &resource, Some(ExtractionMode::Resource), false);
    let by_fallback = judge(&rules, &resource, None, false);
    assert_eq!(class(&by_resource), class(&by_fallback));
    assert_eq!(by_resource.body["detail"], by_fallback.body["detail"]);
    let wrong = judge(&rules, &resource, Some(ExtractionMode::Attachment), false);
    assert_eq!(class(&wrong), (400, "/msg/cda-element".to_string()));
}

#[test]
fn a_file_that_is_not_a_pdf_is_refused_with_415() {
    let testdata = shared_dir().join("testdata");
    let rules = Rules::load(&testdata).unwrap();
    let verdict = judge(&rules, b"GIF89a not a document", None, true);
    assert_eq!(verdict.status.as_u16(), 415, "{}", verdict.body);
}

/// A CDA in ISO-8859-1, as its XML declaration says, is read as the gateway reads it
/// (`PDFUtility.detectCharsetAndExtract`, review S20): validated like its UTF-8 original.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_latin1_cda_is_read_by_its_declaration() {
    let stack = integration_tests::stack::TestStack::spawn(Default::default()).await;
    let utf8 = std::fs::read_to_string(shared_dir().join("testdata/cda/examples/LAB.xml")).unwrap();
    let body = utf8.split_once('\n').unwrap().1;
    assert!(
        body.contains('à') || body.contains('è'),
        "the sample has accented letters"
    );
    let declared = |enc: &str| format!("<?xml version=\"1.0\" encoding=\"{enc}\"?>\n{body}");
    let latin1: Vec<u8> = declared("ISO-8859-1")
        .chars()
        .map(|c| u8::try_from(c as u32).expect("Latin-1"))
        .collect();
    let as_utf8 = declared("UTF-8").into_bytes();
    let mut verdicts = Vec::new();
    for cda in [as_utf8, latin1] {
        let pdf = crate::pdf_attaching("cda.xml", &cda);
        let (s, _, b) = crate::read(crate::validate(&stack, &pdf).await).await;
        verdicts.push((s, b["type"].as_str().map(str::to_string)));
    }
    assert_eq!(verdicts[0], verdicts[1], "{verdicts:?}");
    assert_eq!(verdicts[0].0, 201, "{verdicts:?}");
}

/// The CDA read as the dispatcher reads it, with Jsoup (review S19): without any `id` the
/// workflowInstanceId cannot be made (400), without a `code` or a `patientRole` id the
/// token cannot be checked (403), and a document that is not well-formed reaches the
/// validator, whose syntax stage refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cda_is_read_leniently_and_its_gaps_named() {
    let stack =
        integration_tests::stack::TestStack::spawn(integration_tests::stack::StackOptions {
            full_validation: true,
            ..Default::default()
        })
        .await;
    let lab = std::fs::read_to_string(shared_dir().join("testdata/cda/examples/LAB.xml")).unwrap();
    let within_patient = |text: &str| {
        let (start, end) = (
            text.find("<patientRole").unwrap(),
            text.find("</patientRole>").unwrap(),
        );
        format!(
            "{}{}{}",
            &text[..start],
            text[start..end].replace("<id ", "<xid "),
            &text[end..]
        )
    };
    let cases = [
        (
            lab.replace("<id ", "<xid "),
            400,
            "/msg/workflow-id-error-extraction",
            "Errore durante l'estrazione del workflow instance id ",
        ),
        (
            lab.replace("<code ", "<xcode ")
                .replace("</code>", "</xcode>"),
            403,
            "/msg/jwt-validation",
            "JWT payload: non è stato possibile verificare la tipologia del CDA",
        ),
        (
            within_patient(&lab),
            403,
            "/msg/jwt-validation",
            "JWT payload: non è stato possibile verificare il codice fiscale del paziente presente nel CDA",
        ),
    ];
    for (cda, status, kind, detail) in cases {
        let pdf = crate::pdf_attaching("cda.xml", cda.as_bytes());
        let (s, _, b) = crate::read(crate::validate(&stack, &pdf).await).await;
        assert_eq!(
            (s, b["type"].as_str(), b["detail"].as_str()),
            (status, Some(kind), Some(detail)),
            "{b}"
        );
    }
    // Not well-formed: the facts are read, the validator's syntax stage refuses it.
    let broken = lab.replacen("</ClinicalDocument>", "<unclosed></ClinicalDocument>", 1);
    let pdf = crate::pdf_attaching("cda.xml", broken.as_bytes());
    let (s, _, b) = crate::read(crate::validate(&stack, &pdf).await).await;
    assert_eq!(
        (s, b["type"].as_str(), b["detail"].as_str()),
        (
            400,
            Some("/msg/syntax"),
            Some(cda_validation::xsd::UNPARSABLE)
        ),
        "the validator's, not the reader's: {b}"
    );
    assert!(
        !b["detail"].as_str().unwrap().starts_with("ERROR: 1,1"),
        "the validator's, not the reader's: {b}"
    );
}

/// The validator's lookups (review S22): the Sistema TS issuer's schematron is looked up
/// under its system, and the catalogue has none; a valid document whose template the FHIR
/// engine does not map is the validator's refusal, which the dispatcher answers as
/// `/msg/validator` at `/cda-validation`.
#[test]
fn the_ts_schematron_and_the_engines_maps_are_looked_up_as_the_validator_does() {
    let testdata = shared_dir().join("testdata");
    // A radiology report that passes every stage (docs/validation.md).
    let pdf = std::fs::read(testdata.join("pdf/accreditamento/SIGNED_RAD1.pdf")).unwrap();
    let lab = gateway_contract::cda::extract_cda(&pdf, None).unwrap();
    let facts = CdaFacts::parse(&lab).unwrap();
    let root = facts.template_root.clone().unwrap();
    let rules = Rules::load(&testdata).unwrap();
    assert!(matches!(
        rules.judge(&lab, &facts, false),
        ValidatorVerdict::Pass { .. }
    ));
    let e = rules.judge(&lab, &facts, true).into_result().unwrap_err();
    assert_eq!(
        (e.kind.type_title().0, e.detail.as_str()),
        (
            "/msg/semantic",
            format!("Schematron with template id root {root}|TS not found on database.").as_str()
        )
    );
    // The same rules with an engine that maps only another template.
    let dir = std::env::temp_dir().join(format!("fsemw-engine-{}", std::process::id()));
    let schemas = dir.join("schemas");
    std::fs::create_dir_all(&schemas).unwrap();
    for name in ["registry.json", "schema", "schematron"] {
        let _ = std::fs::remove_file(schemas.join(name));
        std::os::unix::fs::symlink(testdata.join("schemas").join(name), schemas.join(name))
            .unwrap();
    }
    let _ = std::fs::remove_file(dir.join("terminology"));
    std::os::unix::fs::symlink(testdata.join("terminology"), dir.join("terminology")).unwrap();
    let engine = r#"{"id": "6548a9f2c1e3", "roots": [{"root": ["2.16.840.1.113883.2.9.10.1.5"], "oid": "map-ldo"}]}"#;
    std::fs::write(schemas.join("engine.json"), engine).unwrap();
    let mapped = Rules::load(&dir).unwrap();
    let e = mapped.judge(&lab, &facts, false).into_result().unwrap_err();
    assert_eq!(
        (e.kind.type_title(), e.detail.as_str(), e.instance.as_str()),
        (
            ("/msg/validator", "Errore di validazione"),
            format!("Nessuna mappa con id {root} è stata trovata nell'engine 6548a9f2c1e3")
                .as_str(),
            "/cda-validation"
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}
