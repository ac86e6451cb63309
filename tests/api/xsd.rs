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
    assert_eq!(
        errors,
        [
            "ERROR: -1,-1 cvc-complex-type.2.4.a: Invalid content was found starting with element 'unexpected'. \
             One of '{\"urn:hl7-org:v3\":realmCode, \"urn:hl7-org:v3\":typeId}' is expected."
        ],
    );
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

fn mutated(file: &str, from: &str, to: &str) -> String {
    let original = text(file);
    assert!(original.contains(from), "{file}: {from}");
    original.replacen(from, to, 1)
}

/// `file` with the first `<tag>`'s content removed.
fn emptied(file: &str, tag: &str) -> String {
    let original = text(file);
    let start = original.find(&format!("<{tag}>")).unwrap() + tag.len() + 2;
    let end = original.find(&format!("</{tag}>")).unwrap();
    format!("{}{}", &original[..start], &original[end..])
}

const TYPE_ID: &str = r#"<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>"#;
const ENCOUNTER_ID: &str = r#"<id root="2.16.840.1.113883.2.9.2.120103.4.6" extension="2011008159" assigningAuthorityName="XXX"/>"#;
const CONFIDENTIALITY: &str = r#"<confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25" codeSystemName="Confidentiality"/>"#;
const LAB_VALUE: &str = r#"<value xsi:type="PQ" value="16.00" unit="mg/L"/>"#;

/// The mutations live answers quote, each with the gateway's exact text (issue numbers
/// of ministero-salute/it-fse-support), on the shared documents.
fn live_cases() -> Vec<(&'static str, String, Vec<&'static str>)> {
    let ldo = "examples/LDO.xml";
    let lab = "examples/LAB.xml";
    let late_id = mutated(ldo, ENCOUNTER_ID, "")
        .replacen(
            "<responsibleParty>",
            &format!("{ENCOUNTER_ID}<responsibleParty>"),
            1,
        )
        .replacen(
            r#"extension="POCD_MT000040UV02""#,
            r#"extension="POCD_HD000040""#,
            1,
        );
    vec![
        (
            "issue 18: languageCode before confidentialityCode",
            mutated(ldo, CONFIDENTIALITY, "").replacen(
                "<setId",
                &format!("{CONFIDENTIALITY}<setId"),
                1,
            ),
            vec![
                "ERROR: -1,-1 cvc-complex-type.2.4.a: Invalid content was found starting with element 'languageCode'. One of '{\"urn:hl7-org:v3\":confidentialityCode}' is expected.",
            ],
        ),
        (
            "#893: an encounter's id after its effectiveTime (POCD_HD000040)",
            late_id,
            vec![
                "ERROR: -1,-1 cvc-complex-type.2.4.a: Invalid content was found starting with element 'id'. One of '{\"urn:hl7-org:v3\":dischargeDispositionCode, \"urn:hl7-org:v3\":responsibleParty, \"urn:hl7-org:v3\":encounterParticipant, \"urn:hl7-org:v3\":location}' is expected.",
            ],
        ),
        (
            "#893: a child where none may follow",
            mutated(ldo, "</place>", "<act/></place>"),
            vec![
                "ERROR: -1,-1 cvc-complex-type.2.4.d: Invalid content was found starting with element 'act'. No child element is expected at this point.",
            ],
        ),
        (
            "#1479: content where a table row is expected",
            mutated(lab, "<tbody>", "<tbody><content>x</content>"),
            vec![
                "ERROR: -1,-1 cvc-complex-type.2.4.a: Invalid content was found starting with element 'content'. One of '{\"urn:hl7-org:v3\":tr}' is expected.",
            ],
        ),
        (
            "#1479: nullflavor in lower case",
            mutated(
                ldo,
                r#"<code code="RESPRSN"/>"#,
                r#"<code nullflavor="UNK"/>"#,
            ),
            vec![
                "ERROR: -1,-1 cvc-complex-type.3.2.2: Attribute 'nullflavor' is not allowed to appear in element 'code'.",
            ],
        ),
        (
            "#682: an empty assigningAuthorityName",
            mutated(
                ldo,
                TYPE_ID,
                &TYPE_ID.replace("/>", r#" assigningAuthorityName=""/>"#),
            ),
            vec![
                "ERROR: -1,-1 cvc-minLength-valid: Value '' with length = '0' is not facet-valid with respect to minLength '1' for type 'st'.",
                "ERROR: -1,-1 cvc-attribute.3: The value '' of attribute 'assigningAuthorityName' on element 'typeId' is not valid with respect to its type, 'st'.",
            ],
        ),
        (
            "#682: an observation value without xsi:type",
            mutated(lab, LAB_VALUE, "<value>16</value>"),
            vec![
                "ERROR: -1,-1 cvc-type.2: The type definition cannot be abstract for element value.",
                "ERROR: -1,-1 cvc-complex-type.2.1: Element 'value' must have no character or element information item [children], because the type's content type is empty.",
            ],
        ),
        (
            "#882: an address after the patient",
            mutated(ldo, "</patientRole>", "<addr/></patientRole>"),
            vec![
                "ERROR: -1,-1 cvc-complex-type.2.4.a: Invalid content was found starting with element 'addr'. One of '{\"urn:hl7-org:v3\":providerOrganization}' is expected.",
            ],
        ),
        (
            "#753: not well-formed",
            mutated(ldo, "</ClinicalDocument>", "<unclosed></ClinicalDocument>"),
            vec!["Error while executing validation on xsd schema"],
        ),
    ]
}

#[test]
fn messages_are_the_gateway_validators_for_the_mutations_live_answers_quote() {
    let sets = SchemaSets::load(&shared_dir().join("testdata/schemas/schema")).unwrap();
    for (case, xml, expected) in live_cases() {
        let ext = if xml.contains("POCD_HD000040") {
            "POCD_HD000040"
        } else {
            "POCD_MT000040UV02"
        };
        assert_eq!(sets.validate(ext, &xml).unwrap(), expected, "{case}");
    }
}

/// Codes no live answer quotes: the wording of Xerces's message catalogue, the
/// parameters as Xerces fills them (raw names, the declared type, attributes of one
/// element in name order).
#[test]
fn the_other_cvc_codes_use_xerces_wording() {
    let sets = SchemaSets::load(&shared_dir().join("testdata/schemas/schema")).unwrap();
    let ldo = "examples/LDO.xml";
    let lab = "examples/LAB.xml";
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "cvc-complex-type.4",
            mutated(ldo, TYPE_ID, r#"<typeId extension="POCD_MT000040UV02"/>"#),
            vec![
                "ERROR: -1,-1 cvc-complex-type.4: Attribute 'root' must appear on element 'typeId'.",
            ],
        ),
        (
            "cvc-complex-type.2.4.b",
            emptied(ldo, "birthplace"),
            vec![
                "ERROR: -1,-1 cvc-complex-type.2.4.b: The content of element 'birthplace' is not complete. One of '{\"urn:hl7-org:v3\":realmCode, \"urn:hl7-org:v3\":typeId, \"urn:hl7-org:v3\":templateId, \"urn:hl7-org:v3\":place}' is expected.",
            ],
        ),
        (
            "cvc-enumeration-valid",
            mutated(
                ldo,
                r#"<structuredBody moodCode="EVN""#,
                r#"<structuredBody moodCode="XYZ""#,
            ),
            vec![
                "ERROR: -1,-1 cvc-enumeration-valid: Value 'XYZ' is not facet-valid with respect to enumeration '[APT, ARQ, CRT, DEF, EVN, EVN.CRT, EXPEC, GOL, INT, OPT, PERM, PERMRQ, PRMS, PRP, RMD, RQO, RSK, SLOT]'. It must be a value from the enumeration.",
                "ERROR: -1,-1 cvc-attribute.3: The value 'XYZ' of attribute 'moodCode' on element 'structuredBody' is not valid with respect to its type, 'ActMood'.",
            ],
        ),
        (
            "cvc-complex-type.3.1 (a fixed value)",
            mutated(
                ldo,
                r#"<structuredBody moodCode="EVN""#,
                r#"<structuredBody moodCode="INT""#,
            ),
            vec![
                "ERROR: -1,-1 cvc-complex-type.3.1: Value 'INT' of attribute 'moodCode' of element 'structuredBody' is not valid with respect to the corresponding attribute use. Attribute 'moodCode' has a fixed value of 'EVN'.",
            ],
        ),
        (
            "cvc-pattern-valid",
            mutated(
                ldo,
                r#"<effectiveTime value="20220417100000+0100"/>"#,
                r#"<effectiveTime value="2022-04-17"/>"#,
            ),
            vec![
                r"ERROR: -1,-1 cvc-pattern-valid: Value '2022-04-17' is not facet-valid with respect to pattern '[0-9]{1,8}|([0-9]{9,14}|[0-9]{14,14}\.[0-9]+)([+\-][0-9]{1,4})?' for type 'ts'.",
                "ERROR: -1,-1 cvc-attribute.3: The value '2022-04-17' of attribute 'value' on element 'effectiveTime' is not valid with respect to its type, 'ts'.",
            ],
        ),
        (
            "cvc-datatype-valid.1.2.3",
            mutated(
                lab,
                LAB_VALUE,
                r#"<value xsi:type="PQ" value="sedici" unit="mg/L"/>"#,
            ),
            vec![
                "ERROR: -1,-1 cvc-datatype-valid.1.2.3: 'sedici' is not a valid value of union type 'real'.",
                "ERROR: -1,-1 cvc-attribute.3: The value 'sedici' of attribute 'value' on element 'value' is not valid with respect to its type, 'real'.",
            ],
        ),
        (
            "cvc-elt.4.2, then ANY's refusals",
            mutated(
                lab,
                LAB_VALUE,
                r#"<value xsi:type="FOO" value="16.00" unit="mg/L"/>"#,
            ),
            vec![
                "ERROR: -1,-1 cvc-elt.4.2: Cannot resolve 'FOO' to a type definition for element 'value'.",
                "ERROR: -1,-1 cvc-type.2: The type definition cannot be abstract for element value.",
                "ERROR: -1,-1 cvc-complex-type.3.2.2: Attribute 'unit' is not allowed to appear in element 'value'.",
                "ERROR: -1,-1 cvc-complex-type.3.2.2: Attribute 'value' is not allowed to appear in element 'value'.",
            ],
        ),
        (
            "cvc-complex-type.2.3",
            mutated(ldo, "<recordTarget>", "<recordTarget>testo"),
            vec![
                "ERROR: -1,-1 cvc-complex-type.2.3: Element 'recordTarget' cannot have character [children], because the type's content type is element-only.",
            ],
        ),
        (
            "raw names and attributes in name order",
            mutated(
                ldo,
                TYPE_ID,
                r#"<typeId zeta="1" root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02" alpha="2"/><sdtc:raceCode code="x"/>"#,
            ),
            vec![
                "ERROR: -1,-1 cvc-complex-type.3.2.2: Attribute 'alpha' is not allowed to appear in element 'typeId'.",
                "ERROR: -1,-1 cvc-complex-type.3.2.2: Attribute 'zeta' is not allowed to appear in element 'typeId'.",
                "ERROR: -1,-1 cvc-complex-type.2.4.a: Invalid content was found starting with element 'sdtc:raceCode'. One of '{\"urn:hl7-org:v3\":templateId, \"urn:hl7-org:v3\":id}' is expected.",
            ],
        ),
        (
            "an xs:ID that is not an NCName",
            mutated(
                ldo,
                r#"<section ID="Motivo_del_Ricovero">"#,
                r#"<section ID="1">"#,
            ),
            vec![
                "ERROR: -1,-1 cvc-datatype-valid.1.2.1: '1' is not a valid value for 'NCName'.",
                "ERROR: -1,-1 cvc-attribute.3: The value '1' of attribute 'ID' on element 'section' is not valid with respect to its type, 'ID'.",
            ],
        ),
        (
            "one finding per value: the pattern before the enumeration",
            mutated(
                ldo,
                r#"<structuredBody moodCode="EVN""#,
                r#"<structuredBody moodCode="E V""#,
            ),
            vec![
                r"ERROR: -1,-1 cvc-pattern-valid: Value 'E V' is not facet-valid with respect to pattern '[^\s]+' for type 'ActMood'.",
                "ERROR: -1,-1 cvc-attribute.3: The value 'E V' of attribute 'moodCode' on element 'structuredBody' is not valid with respect to its type, 'ActMood'.",
            ],
        ),
        (
            "whitespace is content for an empty type",
            mutated(lab, LAB_VALUE, "<value>\n</value>"),
            vec![
                "ERROR: -1,-1 cvc-type.2: The type definition cannot be abstract for element value.",
                "ERROR: -1,-1 cvc-complex-type.2.1: Element 'value' must have no character or element information item [children], because the type's content type is empty.",
            ],
        ),
        (
            "a document type declaration",
            mutated(
                ldo,
                "<ClinicalDocument ",
                "<!DOCTYPE ClinicalDocument>\n<ClinicalDocument ",
            ),
            vec!["Error while executing validation on xsd schema"],
        ),
    ];
    for (case, xml, expected) in cases {
        assert_eq!(
            sets.validate("POCD_MT000040UV02", &xml).unwrap(),
            expected,
            "{case}"
        );
    }
}
