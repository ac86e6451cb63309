//! `ops/bench/registry.sh`: the regional registry and repositories under load.
//!
//! 1. ITI-41 ingest: `--concurrency` clients send Provide and Register with a 100 KB
//!    document (real MTOM) for `--seconds`; documents/s and latency. Baseline in the same
//!    run: the same documents and metadata rows written straight into PostgreSQL.
//! 2. ITI-18 FindDocuments latency (LeafClass and ObjectRef) with the registry bulk-loaded to
//!    `--entries` DocumentEntries (10,000 patients); baseline: the same queries on the
//!    registry before the bulk load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use integration_tests::stack::{StackOptions, TestStack};
use integration_tests::xds::{
    EntrySpec, PATIENT, document_entry, has_member, mtom, soap12, submission_set, submit,
};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[arg(long, default_value_t = 1_000_000)]
    entries: i64,
    #[arg(long, default_value_t = 2_000)]
    queries: usize,
}

const PROVIDE: &str = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b";
const QUERY: &str = "urn:ihe:iti:2007:RegistryStoredQuery";

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn find_documents(patient: &str, return_type: &str) -> String {
    format!(
        "<query:AdhocQueryRequest xmlns:query=\"urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0\" xmlns:rim=\"urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0\"><query:ResponseOption returnComposedObjects=\"true\" returnType=\"{return_type}\"/><rim:AdhocQuery id=\"urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d\"><rim:Slot name=\"$XDSDocumentEntryPatientId\"><rim:ValueList><rim:Value>'{}'</rim:Value></rim:ValueList></rim:Slot><rim:Slot name=\"$XDSDocumentEntryStatus\"><rim:ValueList><rim:Value>('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')</rim:Value></rim:ValueList></rim:Slot></rim:AdhocQuery></query:AdhocQueryRequest>",
        patient.replace('&', "&amp;")
    )
}

/// Objects in an answer, either form.
fn objects_in(text: &str) -> usize {
    text.matches("<rim:ExtrinsicObject ").count() + text.matches("<rim:ObjectRef ").count()
}

fn bench_patient(n: i64) -> String {
    format!("BNCPAZ{n:010}^^^&2.16.840.1.113883.2.9.4.3.2&ISO")
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let stack = TestStack::spawn(StackOptions::default()).await;
    let base = stack.mw_url.trim_end_matches("/v1").to_string();
    let client = stack.client(Some("producer"));
    let document: Arc<Vec<u8>> = Arc::new((0..100 * 1024).map(|i| (i * 7 % 251) as u8).collect());

    // 1. ITI-41 ingest.
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let started = Instant::now();
    for c in 0..args.concurrency {
        let (client, base, doc, stop, counter, errors) = (
            client.clone(),
            base.clone(),
            document.clone(),
            stop.clone(),
            counter.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let mut content = doc.to_vec();
                content.extend_from_slice(format!("{c}-{i}").as_bytes());
                let uid = format!("2.16.840.1.113883.2.9.2.160.4.4^BENCH-{c}-{i}");
                let entry = EntrySpec::lab("Document01", &uid);
                let objects = format!(
                    "{}{}{}",
                    document_entry(&entry),
                    submission_set(&format!("2.16.840.1.113883.2.9.2.160.4.3.{c}{i:09}"), PATIENT),
                    has_member("hm", "Document01")
                );
                let body = format!(
                    "<xdsb:ProvideAndRegisterDocumentSetRequest xmlns:xdsb=\"urn:ihe:iti:xds-b:2007\">{}<xdsb:Document id=\"Document01\"><xop:Include xmlns:xop=\"http://www.w3.org/2004/08/xop/include\" href=\"cid:doc@bench\"/></xdsb:Document></xdsb:ProvideAndRegisterDocumentSetRequest>",
                    submit(&objects)
                );
                let (ct, bytes) = mtom(&soap12(PROVIDE, &body), &[("doc@bench", "application/pdf", &content)]);
                let t = Instant::now();
                let r = client
                    .post(format!("{base}/xds/repository/aslba"))
                    .header("content-type", ct)
                    .body(bytes)
                    .send()
                    .await;
                let ok = match r {
                    Ok(r) => r.text().await.map(|t| t.contains("ResponseStatusType:Success")).unwrap_or(false),
                    Err(_) => false,
                };
                if ok {
                    latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                    counter.fetch_add(1, Ordering::Relaxed);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let ingested = counter.load(Ordering::Relaxed);
    let ingest_rate = ingested as f64 / elapsed;

    // Baseline: the same rows written straight into PostgreSQL (no SOAP, no MTOM, no checks).
    let (db, conn) = tokio_postgres::connect(&stack.database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let xml_template: String = db
        .query_one("SELECT xml FROM xds_document_entry LIMIT 1", &[])
        .await?
        .get(0);
    let baseline_started = Instant::now();
    let mut baseline = 0u64;
    while baseline_started.elapsed() < Duration::from_secs(args.seconds.min(5)) {
        baseline += 1;
        let uid = format!("BASE-{baseline}");
        let mut content = document.to_vec();
        content.extend_from_slice(uid.as_bytes());
        db.execute(
            "INSERT INTO xds_repository_document (repository_unique_id, document_unique_id, mime_type, sha1_hex, size, content) VALUES ('base', $1, 'application/pdf', 'x', $2, $3)",
            &[&uid, &(content.len() as i64), &content],
        )
        .await?;
        db.execute(
            "INSERT INTO xds_document_entry (entry_uuid, lid, unique_id, patient_id, status, mime_type, source, xml) VALUES ($1, $1, $1, 'base', 'urn:oasis:names:tc:ebxml-regrep:StatusType:Approved', 'application/pdf', 'bench', $2)",
            &[&uid, &xml_template],
        )
        .await?;
    }
    let baseline_rate = baseline as f64 / baseline_started.elapsed().as_secs_f64();
    db.execute("DELETE FROM xds_document_entry WHERE source = 'bench'", &[])
        .await?;

    // 2. FindDocuments before and after the bulk load.
    let measure = |patients: Vec<String>, return_type: &'static str| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let mut lat = Vec::new();
            let mut returned = 0usize;
            for p in patients {
                let t = Instant::now();
                let text = client
                    .post(format!("{base}/xds/registry"))
                    .header("content-type", "application/soap+xml")
                    .body(soap12(QUERY, &find_documents(&p, return_type)))
                    .send()
                    .await
                    .expect("query")
                    .text()
                    .await
                    .expect("answer");
                assert!(text.contains("ResponseStatusType:Success"), "{text}");
                returned += objects_in(&text);
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat.sort_by(f64::total_cmp);
            (lat, returned)
        }
    };
    let patients = 10_000i64;
    let pick = |k: usize| {
        (0..k)
            .map(|i| bench_patient((i as i64 * 7919) % patients))
            .collect::<Vec<_>>()
    };
    // The small registry: the ingested entries plus one entry per bench patient.
    db.execute(
        "INSERT INTO xds_document_entry (entry_uuid, lid, unique_id, patient_id, status, mime_type, \
         class_code, type_code, creation_time, source, xml) \
         SELECT 'urn:uuid:' || md5(g::text), 'urn:uuid:' || md5(g::text), '2.16.840.1.113883.2.9.2.160.4.4^BULK-' || g, \
         'BNCPAZ' || lpad((g % $2::bigint)::text, 10, '0') || '^^^&2.16.840.1.113883.2.9.4.3.2&ISO', \
         'urn:oasis:names:tc:ebxml-regrep:StatusType:Approved', 'application/pdf+text/x-cda-r2+xml', \
         'REF^^2.16.840.1.113883.2.9.3.3.6.1.5', '11502-2^^2.16.840.1.113883.6.1', \
         to_char(timestamp '2020-01-01' + (g || ' minutes')::interval, 'YYYYMMDDHH24MISS'), 'bulk', \
         $3 FROM generate_series(1::bigint, $1::bigint) g",
        &[&patients, &patients, &xml_template],
    )
    .await?;
    db.execute("ANALYZE xds_document_entry", &[]).await?;
    let (small, small_rows) = measure(pick(args.queries), "LeafClass").await;
    let (small_refs, _) = measure(pick(args.queries), "ObjectRef").await;
    let load_started = Instant::now();
    db.execute(
        "INSERT INTO xds_document_entry (entry_uuid, lid, unique_id, patient_id, status, mime_type, \
         class_code, type_code, creation_time, source, xml) \
         SELECT 'urn:uuid:' || md5(g::text), 'urn:uuid:' || md5(g::text), '2.16.840.1.113883.2.9.2.160.4.4^BULK-' || g, \
         'BNCPAZ' || lpad((g % $2::bigint)::text, 10, '0') || '^^^&2.16.840.1.113883.2.9.4.3.2&ISO', \
         'urn:oasis:names:tc:ebxml-regrep:StatusType:Approved', 'application/pdf+text/x-cda-r2+xml', \
         'REF^^2.16.840.1.113883.2.9.3.3.6.1.5', '11502-2^^2.16.840.1.113883.6.1', \
         to_char(timestamp '2020-01-01' + (g || ' minutes')::interval, 'YYYYMMDDHH24MISS'), 'bulk', \
         $3 FROM generate_series($4::bigint, $1::bigint) g",
        &[&args.entries, &patients, &xml_template, &(patients + 1)],
    )
    .await?;
    db.execute("ANALYZE xds_document_entry", &[]).await?;
    let load_secs = load_started.elapsed().as_secs_f64();
    let total: i64 = db
        .query_one("SELECT count(*) FROM xds_document_entry", &[])
        .await?
        .get(0);
    let (big, big_rows) = measure(pick(args.queries), "LeafClass").await;
    let (big_refs, _) = measure(pick(args.queries), "ObjectRef").await;

    println!(
        "ITI-41 Provide and Register, 100 KB documents, MTOM, {} clients, {:.1} s:",
        args.concurrency, elapsed
    );
    println!(
        "  {ingested} stored ({} errors): {ingest_rate:.1} documents/s, p50 {:.1} ms, p99 {:.1} ms",
        errors.load(Ordering::Relaxed),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );
    println!(
        "  baseline (same rows straight into PostgreSQL, 1 connection): {baseline_rate:.1} documents/s -> ITI-41 x{:.2}",
        ingest_rate / baseline_rate
    );
    println!(
        "ITI-18 FindDocuments, {} queries per line, 1 client:",
        args.queries
    );
    let line = |label: String, lat: &[f64], rows: Option<usize>| {
        println!(
            "  {label}: p50 {:.2} ms, p99 {:.2} ms{}",
            percentile(lat, 0.5),
            percentile(lat, 0.99),
            rows.map(|r| format!(
                " ({:.1} entries returned per query)",
                r as f64 / args.queries as f64
            ))
            .unwrap_or_default()
        )
    };
    line(
        format!("LeafClass, {patients} entries"),
        &small,
        Some(small_rows),
    );
    line(
        format!("LeafClass, {total} entries (bulk load {load_secs:.0} s)"),
        &big,
        Some(big_rows),
    );
    line(format!("ObjectRef, {patients} entries"), &small_refs, None);
    line(format!("ObjectRef, {total} entries"), &big_refs, None);
    println!(
        "  1 M / 10 k: LeafClass p50 x{:.2}, p99 x{:.2} (100x the entries per answer); ObjectRef p50 x{:.2}, p99 x{:.2}",
        percentile(&big, 0.5) / percentile(&small, 0.5),
        percentile(&big, 0.99) / percentile(&small, 0.99),
        percentile(&big_refs, 0.5) / percentile(&small_refs, 0.5),
        percentile(&big_refs, 0.99) / percentile(&small_refs, 0.99)
    );
    Ok(())
}
