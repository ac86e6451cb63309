//! The production binary's command line: it offers the product's commands and none of the
//! development ones, which are `fsemw-dev`'s (`dev-tools/`).

use std::process::Command;

fn help(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fsemw"))
        .args(args)
        .output()
        .expect("fsemw runs");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn help_names_the_product_commands_and_no_development_one() {
    let (code, text) = help(&["--help"]);
    assert_eq!(code, 0, "{text}");
    for command in [
        "serve",
        "check-config",
        "migrate",
        "producer",
        "tx",
        "validate",
        "console-password",
        "hsm",
    ] {
        assert!(text.contains(command), "{command} missing from:\n{text}");
    }
    for dev in ["gateway-sim", "dev-pki", "dev-jwt", "simulator"] {
        assert!(!text.contains(dev), "{dev} offered by fsemw:\n{text}");
    }
    let (code, text) = help(&["hsm", "--help"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("status"), "{text}");
    assert!(!text.contains("init-dev"), "{text}");
}

#[test]
fn development_commands_are_unknown_to_fsemw() {
    for args in [
        &["gateway-sim", "--help"][..],
        &["dev-pki", "--out", "/tmp/x"],
        &["dev-jwt", "--operation", "validation"],
        &["hsm", "init-dev", "--help"],
    ] {
        let (code, text) = help(args);
        assert_eq!(code, 2, "{args:?}: {text}");
        assert!(text.contains("unrecognized subcommand"), "{args:?}: {text}");
    }
}
