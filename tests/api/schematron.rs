//! The schematron engine against the reference facts and the validator test documents.

use std::collections::BTreeSet;

use cda_validation::schematron::Schematron;
use integration_tests::shared_dir;

fn rules(file: &str) -> Schematron {
    let path = shared_dir().join("testdata/schemas/schematron").join(file);
    Schematron::compile(&std::fs::read_to_string(&path).unwrap(), file).unwrap()
}

fn failed(s: &Schematron, cda: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(shared_dir().join("testdata/cda").join(cda)).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    s.run(&doc).failed.into_iter().map(|f| f.code).collect()
}

#[test]
fn every_rule_file_compiles() {
    let dir = shared_dir().join("testdata/schemas/schematron");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        Schematron::compile(&std::fs::read_to_string(&p).unwrap(), &name)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn lab_passes_and_vps_fails_as_the_reference_says() {
    let lab = rules("schematronFSE_LAB_v27.1.sch");
    assert_eq!(failed(&lab, "examples/LAB.xml"), BTreeSet::new());
    let vps = rules("schematron_VPS_v3.8.sch");
    let got = failed(&vps, "examples/VPS.xml");
    assert_eq!(
        got,
        BTreeSet::from(["ERRORE-56".to_string(), "ERRORE-46a".to_string()]),
        "{got:?}"
    );
}

/// The validator's LAB test documents were written for the old LAB rules (v17): under
/// v27.1 each error document must still fail at least one assert, and the "ok"
/// documents fail only ERRORE-45, a rule added since (their custodian and service
/// provider organizations carry a Home `telecom`, `use="HP"`).
#[test]
fn validator_lab_documents_under_the_current_rules() {
    let lab = rules("schematronFSE_LAB_v27.1.sch");
    let dir = shared_dir().join("testdata/cda/validator/lab_schematron_error");
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        let got = failed(&lab, &format!("validator/lab_schematron_error/{name}"));
        assert!(!got.is_empty(), "{name} passes");
    }
    for ok in [
        "LAB_Esempio_CDA_001.xml",
        "LAB_Esempio_CDA_002.xml",
        "LAB_Esempio_CDA_003.xml",
        "LAB_v6_OK.xml",
    ] {
        let got = failed(&lab, &format!("validator/ok/{ok}"));
        assert_eq!(got, BTreeSet::from(["ERRORE-45".to_string()]), "{ok}");
        let text = std::fs::read_to_string(shared_dir().join("testdata/cda/validator/ok").join(ok))
            .unwrap();
        let work_phones = text.replace("use=\"HP\"", "use=\"WP\"");
        assert!(
            failed_text(&lab, &work_phones).is_empty(),
            "{ok} with work telecoms"
        );
    }
}

fn failed_text(s: &Schematron, text: &str) -> BTreeSet<String> {
    let doc = roxmltree::Document::parse(text).unwrap();
    s.run(&doc).failed.into_iter().map(|f| f.code).collect()
}

#[test]
fn mutated_documents_fail_with_the_right_assertions() {
    let lab = rules("schematronFSE_LAB_v27.1.sch");
    let text = std::fs::read_to_string(shared_dir().join("testdata/cda/examples/LAB.xml")).unwrap();
    // A removed mandatory element.
    let no_realm = text.replacen("<realmCode code=\"IT\"/>", "", 1);
    assert!(failed_text(&lab, &no_realm).contains("ERRORE-1"));
    // An interval in the wrong order; timestamps with a time zone compare as strings
    // (XPath 2.0 on untyped values), not as NaN numbers (XPath 1.0).
    let ts = "<effectiveTime><low value=\"20220404110000+0200\"/><high value=\"20220404120000+0200\"/></effectiveTime>";
    let with_ts = text.replacen(
        "<realmCode code=\"IT\"/>",
        &format!("<realmCode code=\"IT\"/>{ts}"),
        1,
    );
    assert!(!failed_text(&lab, &with_ts).contains("ERROR-49"));
    let reversed = with_ts.replace("20220404120000+0200", "20220404100000+0200");
    assert!(failed_text(&lab, &reversed).contains("ERROR-49"));
}

/// A newer rule file using something the engine does not implement is refused at load,
/// naming the rule, instead of silently matching nothing (a rule that disables itself).
#[test]
fn a_rule_file_beyond_the_engine_is_refused_naming_the_rule() {
    let file = "schematronFSE_LAB_v27.1.sch";
    let text = std::fs::read_to_string(shared_dir().join("testdata/schemas/schematron").join(file))
        .unwrap();
    let cases = [
        (
            r#"<rule context="hl7:ClinicalDocument/hl7:author">"#,
            r#"<rule context="hl7:ClinicalDocument/hl7:author[exists(hl7:time)]">"#,
            "rule #2 (context hl7:ClinicalDocument/hl7:author[exists(hl7:time)]): context: function exists() is not implemented",
        ),
        (
            r#"<rule context="hl7:ClinicalDocument/hl7:participant">"#,
            r#"<rule id="participant" context="hl7:ClinicalDocument/fhir:participant">"#,
            "rule participant (context hl7:ClinicalDocument/fhir:participant): context: prefix fhir: is not declared by an sch:ns",
        ),
    ];
    for (from, to, why) in cases {
        assert!(text.contains(from), "{from}");
        let e = Schematron::compile(&text.replacen(from, to, 1), file).unwrap_err();
        assert_eq!(e.to_string(), format!("{file}: {why}"));
        assert!(matches!(e, cda_validation::Error::In { .. }), "{e:?}");
    }
    // In a test, the rule is named too.
    let e = Schematron::compile(&text.replacen("count(hl7:", "upper-case(hl7:", 1), file)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("{file}: rule #")) && e.contains("upper-case() is not implemented"),
        "{e}"
    );
}

/// A rule whose context fails at run time is a failed assertion with the engine's code.
#[test]
fn a_context_that_cannot_be_evaluated_fails_loudly() {
    let sch = r#"<schema xmlns="http://purl.oclc.org/dsdl/schematron">
      <ns prefix="hl7" uri="urn:hl7-org:v3"/>
      <pattern><rule context="hl7:ClinicalDocument[count('not a node-set') = 1]">
        <assert test="true()">NEVER | not reached</assert>
      </rule></pattern></schema>"#;
    let s = Schematron::compile(sch, "t.sch").unwrap();
    let doc = roxmltree::Document::parse(r#"<ClinicalDocument xmlns="urn:hl7-org:v3"/>"#).unwrap();
    let out = s.run(&doc);
    assert_eq!(out.failed.len(), 1, "{out:?}");
    assert_eq!(
        out.failed[0].code,
        cda_validation::schematron::ENGINE_FAILURE
    );
    assert!(
        out.failed[0].text.contains("count() needs a node-set"),
        "{out:?}"
    );
}
