//! `ops/bench/validate.sh`: the validation pipeline over the example documents.
//!
//! Prints time per stage (single thread), documents per second for the whole
//! pipeline on one thread and on all cores, and the process's peak memory.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cda_validation::engine::Rules;
use cda_validation::schematron::Schematron;
use cda_validation::vocabulary::Terminology;
use cda_validation::xsd::SchemaSets;
use gateway_contract::cda::{CdaFacts, extract_cda};

struct Doc {
    pdf: Option<Vec<u8>>,
    xml: String,
    facts: CdaFacts,
}

fn main() -> anyhow::Result<()> {
    let shared = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared"));
    let secs: u64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let data = shared.join("testdata");
    let mut docs = Vec::new();
    for e in std::fs::read_dir(data.join("cda/examples"))? {
        let p = e?.path();
        let xml = gateway_contract::cda::pdf::decode_xml_text(&std::fs::read(&p)?)?;
        let facts = CdaFacts::parse(&xml)?;
        docs.push(Doc {
            pdf: None,
            xml,
            facts,
        });
    }
    for rel in [
        "pdf/accreditamento/SIGNED_RAD1.pdf",
        "pdf/accreditamento/SIGNED_RSA1.pdf",
        "pdf/attachment/SIGNED_LDO1.pdf",
    ] {
        let pdf = std::fs::read(data.join(rel))?;
        let xml = extract_cda(&pdf, None)?;
        let facts = CdaFacts::parse(&xml)?;
        docs.push(Doc {
            pdf: Some(pdf),
            xml,
            facts,
        });
    }
    let started = Instant::now();
    let rules = Arc::new(Rules::load(&data)?);
    let load_time = started.elapsed();

    // Stage objects of their own, to time each stage alone.
    let xsd = SchemaSets::load(&data.join("schemas/schema"))?;
    let terminology = Terminology::load(&data.join("terminology"))?;
    let registry: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        data.join("schemas/registry.json"),
    )?)?;
    let mut schematrons = std::collections::HashMap::new();
    for e in registry["schematron"].as_array().unwrap() {
        let file = e["file"].as_str().unwrap();
        let text = std::fs::read_to_string(data.join("schemas/schematron").join(file))?;
        schematrons.insert(
            e["template_id_root"].as_str().unwrap().to_string(),
            Schematron::compile(&text, file)?,
        );
    }
    let rounds = 20;
    let mut t = [Duration::ZERO; 4];
    let mut n_pdf = 0;
    for _ in 0..rounds {
        for d in &docs {
            if let Some(pdf) = &d.pdf {
                let s = Instant::now();
                extract_cda(pdf, None)?;
                t[0] += s.elapsed();
                n_pdf += 1;
            }
            let ext = d.facts.type_id_extension.clone().unwrap_or_default();
            let s = Instant::now();
            xsd.validate(&ext, &d.xml)?;
            t[1] += s.elapsed();
            let s = Instant::now();
            let doc = roxmltree::Document::parse(&d.xml)?;
            if let Some(rules) = d
                .facts
                .template_root
                .as_ref()
                .and_then(|r| schematrons.get(r))
            {
                rules.run(&doc);
            }
            t[2] += s.elapsed();
            let s = Instant::now();
            let _ = terminology.check(&doc);
            t[3] += s.elapsed();
        }
    }
    let n = (rounds * docs.len()) as f64;
    let ms = |d: Duration, k: f64| d.as_secs_f64() * 1000.0 / k;
    println!(
        "documents: {} ({} PDFs), rules loaded in {:.0} ms",
        docs.len(),
        docs.iter().filter(|d| d.pdf.is_some()).count(),
        load_time.as_secs_f64() * 1000.0
    );
    println!("stage (1 thread)     ms/doc");
    println!("extraction (PDF)   {:>8.3}", ms(t[0], n_pdf.max(1) as f64));
    println!("xsd                {:>8.3}", ms(t[1], n));
    println!("schematron         {:>8.3}", ms(t[2], n));
    println!("vocabulary         {:>8.3}", ms(t[3], n));
    println!(
        "schematron/xsd: x{:.2}",
        t[2].as_secs_f64() / t[1].as_secs_f64()
    );

    let throughput = |threads: usize| -> f64 {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let docs = Arc::new(
            docs.iter()
                .map(|d| (d.pdf.clone(), d.xml.clone()))
                .collect::<Vec<_>>(),
        );
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (rules, docs) = (rules.clone(), docs.clone());
                std::thread::spawn(move || {
                    let mut count = 0u64;
                    while Instant::now() < deadline {
                        for (pdf, xml) in docs.iter() {
                            let xml = match pdf {
                                Some(p) => extract_cda(p, None).expect("extraction"),
                                None => xml.clone(),
                            };
                            let facts = CdaFacts::parse(&xml).expect("facts");
                            rules.judge(&xml, &facts, false);
                            count += 1;
                        }
                    }
                    count
                })
            })
            .collect();
        let total: u64 = handles.into_iter().map(|h| h.join().expect("thread")).sum();
        total as f64 / secs as f64
    };
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let one = throughput(1);
    let all = throughput(cores);
    println!(
        "whole pipeline: {one:.1} docs/s on 1 thread, {all:.1} docs/s on {cores} threads ({:.1} per core)",
        all / cores as f64
    );
    let hwm = std::fs::read_to_string("/proc/self/status")?
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        .unwrap_or_default();
    println!(
        "peak memory: {} MiB",
        hwm.parse::<f64>().unwrap_or(0.0) / 1024.0
    );
    Ok(())
}
