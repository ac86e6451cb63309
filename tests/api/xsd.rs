//! XSD validation with the gateway's schema sets.

use cda_validation::xsd::SchemaSets;
use gateway_contract::cda::CdaFacts;
use integration_tests::shared_dir;

fn text(rel: &str) -> String {
    let bytes = std::fs::read(shared_dir().join("testdata/cda").join(rel)).unwrap();
    gateway_contract::cda::pdf::decode_xml_text(&bytes).unwrap()
}

fn validate(sets: &SchemaSets, xml: &str) -> Result<Vec<String>, cda_validation::Error> {
    let ext = CdaFacts::parse(xml)
        .unwrap()
        .type_id_extension
        .unwrap_or_default();
    sets.validate(&ext, xml)
}

#[test]
fn examples_and_utf16_documents_are_valid_and_broken_ones_are_not() {
    let sets = SchemaSets::load(&shared_dir().join("testdata/schemas/schema")).unwrap();
    assert_eq!(sets.names(), ["POCD_HD000040", "POCD_MT000040UV02"]);
    for f in [
        "LAB",
        "LDO",
        "RAD",
        "RSA",
        "VPS",
        "PSS",
        "RAP",
        "SING_VACC",
        "CERT_VACC",
    ] {
        let errors = validate(&sets, &text(&format!("examples/{f}.xml"))).unwrap();
        assert_eq!(errors, Vec::<String>::new(), "{f}");
    }
    for f in ["encoding/CDA-utf-16-BE.xml", "encoding/CDA-utf-16-LE.xml"] {
        let errors = validate(&sets, &text(f)).unwrap();
        assert_eq!(errors, Vec::<String>::new(), "{f}");
    }
    let lab = text("examples/LAB.xml");
    let broken = lab.replacen(
        "<realmCode code=\"IT\"/>",
        "<realmCode code=\"IT\"/><unexpected/>",
        1,
    );
    let errors = validate(&sets, &broken).unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("ERROR: 3,"), "{errors:?}");
    assert!(errors[0].contains("unexpected"), "{errors:?}");
    let e = sets.validate("1.3", &lab).unwrap_err();
    assert!(
        matches!(&e, cda_validation::Error::NoSchemaSet(v) if v == "1.3"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "Schema with version 1.3 not found on database."
    );
}
