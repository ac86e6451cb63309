//! `fsemw validate` as a user runs it: output shapes and exit codes.

use std::path::PathBuf;
use std::process::Command;

fn shared() -> PathBuf {
    std::env::var_os("FSEMW_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

fn fsemw(args: &[&str]) -> (i32, String) {
    let testdata = shared().join("testdata");
    let out = Command::new(env!("CARGO_BIN_EXE_fsemw"))
        .arg("validate")
        .arg("--rules")
        .arg(&testdata)
        .args(args)
        .current_dir(&testdata)
        .output()
        .expect("fsemw runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_valid_cda_exits_0_with_the_gateway_body() {
    let (code, out) = fsemw(&["cda/examples/LAB.xml"]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["status"], 200);
    assert!(
        v["body"]["workflowInstanceId"]
            .as_str()
            .unwrap()
            .ends_with("^^^^urn:ihe:iti:xdw:2013:workflowInstanceId")
    );
    let (code, out) = fsemw(&[
        "--activity",
        "VALIDATION",
        "pdf/accreditamento/SIGNED_RAD1.pdf",
    ]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["status"], 201);
    assert!(v["body"]["warning"].as_str().unwrap().contains("SIGN_WARN"));
}

#[test]
fn a_failing_document_exits_1_and_summary_has_one_line_per_file() {
    let (code, out) = fsemw(&["cda/examples/VPS.xml"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (v["status"].as_u64(), v["body"]["type"].as_str()),
        (Some(422), Some("/msg/semantic"))
    );
    let (code, out) = fsemw(&[
        "--format",
        "summary",
        "cda/examples/LAB.xml",
        "cda/examples/VPS.xml",
        "pdf/attachment/CDA_OK_SIGNED.pdf",
    ]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("200\tcda/examples/LAB.xml\tok"));
    assert!(lines[1].starts_with("422\tcda/examples/VPS.xml\t/msg/semantic\t[ERRORE-56|"));
    assert!(lines[2].starts_with("400\tpdf/attachment/CDA_OK_SIGNED.pdf\t/msg/cda-element"));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(fsemw(&["--mode", "SIDEWAYS", "cda/examples/LAB.xml"]).0, 2);
    assert_eq!(fsemw(&[]).0, 2);
}
