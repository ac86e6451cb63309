//! Vocabulary checks against the shared code lists.

use cda_validation::vocabulary::Terminology;
use integration_tests::shared_dir;

fn terminology() -> Terminology {
    Terminology::load(&shared_dir().join("testdata/terminology")).unwrap()
}

fn check(t: &Terminology, text: &str) -> Result<(), String> {
    t.check(&roxmltree::Document::parse(text).unwrap())
        .map_err(|r| r.0)
}

#[test]
fn examples_and_broken_codes() {
    let t = terminology();
    assert_eq!(t.len(), 66);
    let lab = std::fs::read_to_string(shared_dir().join("testdata/cda/examples/LAB.xml")).unwrap();
    for f in [
        "LAB.xml",
        "LDO.xml",
        "RAD.xml",
        "RSA.xml",
        "VPS.xml",
        "PSS.xml",
        "RAP.xml",
        "SING_VACC.xml",
        "CERT_VACC.xml",
    ] {
        let text =
            std::fs::read_to_string(shared_dir().join("testdata/cda/examples").join(f)).unwrap();
        assert_eq!(check(&t, &text), Ok(()), "{f}");
    }
    // A code that is not in its (managed, listed) code system.
    let broken = lab.replacen(
        "code=\"N\" codeSystem=\"2.16.840.1.113883.5.25\"",
        "code=\"ZZ\" codeSystem=\"2.16.840.1.113883.5.25\"",
        1,
    );
    // No codeSystemVersion: printed as nothing, as the live gateway prints it (review
    // §2a: `[CodeSystem: 2.16.840.1.113883.6.103, Codes: X401]`).
    let e = check(&t, &broken).unwrap_err();
    assert_eq!(
        e,
        "Almeno uno dei seguenti vocaboli non è censito: [CodeSystem: 2.16.840.1.113883.5.25, Codes: ZZ]"
    );
    // A blocklisted dictionary.
    let blocked = lab.replacen(
        "codeSystem=\"2.16.840.1.113883.5.25\"",
        "codeSystem=\"2.16.840.1.113883.2.9.999.1\"",
        1,
    );
    assert!(
        check(&t, &blocked)
            .unwrap_err()
            .contains("Blocklist: [2.16.840.1.113883.2.9.999.1]")
    );
    // A version the catalogue does not manage.
    let version = lab.replacen(
        "codeSystem=\"2.16.840.1.113883.5.25\"",
        "codeSystem=\"2.16.840.1.113883.5.25\" codeSystemVersion=\"0.1\"",
        1,
    );
    assert!(
        check(&t, &version)
            .unwrap_err()
            .contains("versione non gestita di un dizionario: [2.16.840.1.113883.5.25 v0.1]")
    );
}
