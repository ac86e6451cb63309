//! The engine against pyschematron's recorded verdicts (`ops/peer/differential.sh`).
//!
//! For every golden file the sets of failed-assert codes, and of fired-report codes, must
//! be identical. A difference would be accepted only if `known_differences.json` listed it
//! with the reason; today there is none.

use std::collections::BTreeSet;

use cda_validation::schematron::Schematron;
use integration_tests::shared_dir;
use serde_json::Value;

fn golden_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/schematron")
}

#[test]
fn failed_assertions_match_the_independent_engine() {
    let known: Value = std::fs::read_to_string(golden_dir().join("known_differences.json"))
        .map(|t| serde_json::from_str(&t).expect("known_differences.json"))
        .unwrap_or(Value::Null);
    let mut compared = 0;
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(golden_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .is_some_and(|n| n == "known_differences.json")
        {
            continue;
        }
        let golden: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let doc = golden["document"].as_str().unwrap();
        let file = golden["schematron"].as_str().unwrap();
        let rules_text =
            std::fs::read_to_string(shared_dir().join("testdata/schemas/schematron").join(file))
                .unwrap();
        let rules = Schematron::compile(&rules_text, file).unwrap();
        let bytes = std::fs::read(shared_dir().join("testdata").join(doc)).unwrap();
        // PDFs: the product's extraction (the peer used pypdf), as without a mode.
        let text = if doc.ends_with(".pdf") {
            gateway_contract::cda::pdf::extract_cda(&bytes, None).unwrap()
        } else {
            gateway_contract::cda::pdf::decode_xml_text(&bytes).unwrap()
        };
        let parsed = roxmltree::Document::parse(&text).unwrap();
        let outcome = rules.run(&parsed);
        let ours: BTreeSet<String> = outcome.failed.into_iter().map(|f| f.code).collect();
        let theirs = codes(&golden["failed"]);
        compared += 1;
        // Reports become warnings on success: they must agree too.
        let our_reports: BTreeSet<String> = outcome.reports.into_iter().map(|f| f.code).collect();
        if our_reports != codes(&golden["reports"]) {
            problems.push(format!(
                "{doc}: reports {our_reports:?}, pyschematron {:?}",
                codes(&golden["reports"])
            ));
        }
        if ours != theirs {
            let only_ours: Vec<_> = ours.difference(&theirs).cloned().collect();
            let only_theirs: Vec<_> = theirs.difference(&ours).cloned().collect();
            let accepted = &known[doc];
            let listed = |k: &str, v: &Vec<String>| {
                accepted[k].as_array().map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str())
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                }) == Some(v.clone())
            };
            if !(listed("only_engine", &only_ours) && listed("only_peer", &only_theirs)) {
                problems.push(format!(
                    "{doc}: only ours {only_ours:?}, only pyschematron {only_theirs:?}"
                ));
            }
        }
    }
    assert!(
        compared >= 40,
        "{compared} golden files: run ops/peer/differential.sh"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn codes(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}
