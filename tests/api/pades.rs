//! The publication's PAdES check (docs/gateway-fidelity.md, row S21): the Ministry's
//! signed samples as the dispatcher judges them, and the attacks the literature names on
//! a signature of our own (a changed byte, an expired signer, a broken `/ByteRange` or
//! `/Contents` — Universal Signature Forgery — and the Incremental Saving Attack, which
//! the dispatcher does not stop). Our signer is judged by OpenSSL too.

use dev_tools::dev_pades::PadesSigner;
use gateway_sim::pades::check;
use integration_tests::shared_dir;
use time::{Duration, OffsetDateTime};

const INVALID: &str = "La firma del pdf non risulta valida";

fn sample(rel: &str) -> Vec<u8> {
    std::fs::read(shared_dir().join("testdata/pdf").join(rel)).unwrap()
}

fn verdict(pdf: &[u8]) -> Result<(), String> {
    check(pdf).map_err(|e| e.detail)
}

#[test]
fn the_ministrys_signed_samples_verify_unless_their_line_ends_were_rewritten() {
    for rel in [
        "accreditamento/SIGNED_CERT_VACC1.pdf",
        "accreditamento/SIGNED_PSS1.pdf",
        "accreditamento/SIGNED_RAD1.pdf",
        "accreditamento/SIGNED_RSA1.pdf",
        "accreditamento/SIGNED_SING_VACC1.pdf",
        "resource/CDA_RESOURCE.pdf",
    ] {
        let pdf = sample(rel);
        assert_eq!(verdict(&pdf), Ok(()), "{rel}");
        assert!(
            pdf.contains(&b'\r'),
            "{rel}: intact, binary streams hold CR bytes"
        );
    }
    // Their /ByteRange ends past the file and not one CR byte is left: CRLF became LF
    // after signing, so the gap no longer holds the hex string.
    for rel in [
        "accreditamento/SIGNED_LAB1.pdf",
        "accreditamento/SIGNED_VPS1.pdf",
        "attachment/CDA_OK_SIGNED.pdf",
        "attachment/SIGNED_LDO1.pdf",
    ] {
        let pdf = sample(rel);
        assert_eq!(verdict(&pdf), Err(INVALID.to_string()), "{rel}");
        assert!(!pdf.contains(&b'\r'), "{rel}");
    }
    for rel in ["attachment/LAB_OK.pdf", "Test.pdf"] {
        assert_eq!(
            verdict(&sample(rel)),
            Err("Il pdf non risulta firmato".to_string()),
            "{rel}"
        );
    }
    let e = check(b"%PDF-1.7\nnot a document\n").unwrap_err();
    assert_eq!(
        (
            e.kind
                .status(gateway_contract::problem::ErrPath::B)
                .as_u16(),
            e.detail.as_str()
        ),
        (500, "Error while searching signature for file with name"),
    );
}

fn replace(pdf: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len(), "same length: offsets stay");
    let at = pdf
        .windows(from.len())
        .position(|w| w == from)
        .expect("present");
    let mut out = pdf.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}

#[test]
fn a_signature_of_our_own_and_the_attacks_on_it() {
    let lab = sample("attachment/LAB_OK.pdf");
    let now = OffsetDateTime::now_utc();
    let signed = PadesSigner::valid_now().sign(&lab, now).unwrap();
    assert_eq!(verdict(&signed), Ok(()));
    // One byte of the CDA changed inside the signed range.
    let forged = replace(&signed, b"RSSMRA22A01A399Z", b"RSSMRA22A01A399X");
    assert_eq!(verdict(&forged), Err(INVALID.into()), "a changed byte");
    // A signing time after the certificate's end (Bouncy Castle's signing-time check).
    let expired = PadesSigner::new(now - Duration::days(730), now - Duration::days(365));
    let late = expired.sign(&lab, now).unwrap();
    assert_eq!(verdict(&late), Err(INVALID.into()), "an expired signer");
    // Universal Signature Forgery: no usable /ByteRange, contents that are not a CMS.
    let no_range = replace(&signed, b"/ByteRange", b"/ByteRangX");
    assert_eq!(verdict(&no_range), Err(INVALID.into()), "no /ByteRange");
    let gap = signed
        .windows(4)
        .position(|w| w == b"<308")
        .expect("the gap")
        + 1;
    let mut not_cms = signed.clone();
    not_cms[gap..gap + 2].copy_from_slice(b"31");
    assert_eq!(verdict(&not_cms), Err(INVALID.into()), "contents not a CMS");
    // No signing date: PDFBox's `getSignDate()` is null, read before the verification.
    let undated = replace(&signed, b"/M(D:", b"/X(D:");
    assert_eq!(verdict(&undated), Err(INVALID.into()), "no /M");
    // Incremental Saving Attack: bytes after the signed range are not covered, and the
    // dispatcher does not ask that the range cover the file — accepted, as there.
    let mut appended = signed.clone();
    appended.extend_from_slice(b"\n% appended after signing\n");
    assert_eq!(verdict(&appended), Ok(()), "the gateway's gap, kept");
}

#[test]
fn openssl_verifies_our_signers_cms() {
    let signer = PadesSigner::valid_now();
    let dir = std::env::temp_dir().join(format!("fsemw-pades-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let content = b"the signed bytes of a PDF".to_vec();
    std::fs::write(dir.join("content"), &content).unwrap();
    std::fs::write(
        dir.join("cms.der"),
        signer.cms(&content, OffsetDateTime::now_utc()),
    )
    .unwrap();
    let verify = |content: &str| {
        std::process::Command::new("openssl")
            .args([
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-noverify",
                "-out",
                "/dev/null",
            ])
            .arg("-in")
            .arg(dir.join("cms.der"))
            .arg("-content")
            .arg(dir.join(content))
            .output()
            .expect("openssl (ops/test.sh installs it)")
            .status
            .success()
    };
    assert!(verify("content"), "OpenSSL accepts the CMS");
    std::fs::write(dir.join("other"), b"other bytes").unwrap();
    assert!(!verify("other"), "and refuses it over other bytes");
    let _ = std::fs::remove_dir_all(&dir);
}
