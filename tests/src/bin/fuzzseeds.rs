//! Seed corpora for `ops/fuzz`: one folder per target, written from `../shared/testdata`
//! (PDFs, CDA documents, the JWT header and payload) and from the test suite's own message
//! builders (forms, envelopes, ebRIM). Nothing of the shared data is committed: the seeds are
//! written where `ops/fuzz/run.sh` asks, at each run.
//!   fuzzseeds <shared testdata folder> <output folder>

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integration_tests::xds::{
    EntrySpec, PATIENT, document_entry, has_member, mtom, soap12, submission_set, submit,
};

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x.eq_ignore_ascii_case(ext)) {
                found.push(p);
            }
        }
    }
    found.sort();
    found
}

fn write(out: &Path, target: &str, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = out.join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(name), bytes)?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, shared, out] = &args[..] else {
        anyhow::bail!("usage: fuzzseeds <shared testdata folder> <output folder>");
    };
    let (shared, out) = (Path::new(shared), Path::new(out));
    let pdfs = files(&shared.join("pdf"), "pdf");
    let cdas = files(&shared.join("cda/examples"), "xml");
    anyhow::ensure!(
        !pdfs.is_empty() && !cdas.is_empty(),
        "no PDFs or CDAs under {}",
        shared.display()
    );

    // pdf_cda: the shared PDFs as they are.
    for p in &pdfs {
        write(
            out,
            "pdf_cda",
            &p.file_name().unwrap().to_string_lossy(),
            &std::fs::read(p)?,
        )?;
    }

    // form_scanner: [boundary length - 1, chunk size - 1] + boundary + a producer's form.
    let boundary = "fsemwfuzzboundary";
    for (i, p) in pdfs.iter().enumerate().take(8) {
        let pdf = std::fs::read(p)?;
        let mut seed = vec![(boundary.len() - 1) as u8, (i * 37 % 256) as u8];
        seed.extend_from_slice(boundary.as_bytes());
        seed.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"requestBody\"\r\n\r\n{{\"healthDataFormat\":\"CDA\",\"mode\":\"ATTACHMENT\",\"activity\":\"VALIDATION\"}}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"doc.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").as_bytes());
        seed.extend_from_slice(&pdf);
        seed.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        write(out, "form_scanner", &format!("form-{i}"), &seed)?;
    }

    // jwt: the shared header and payload, as a producer would send them (signature bytes
    // arbitrary: parsing does not check it).
    let header = std::fs::read(shared.join("jwt/header.json"))?;
    let payload = std::fs::read(shared.join("jwt/payload.json"))?;
    let token = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(&header),
        URL_SAFE_NO_PAD.encode(&payload),
        URL_SAFE_NO_PAD.encode([7u8; 256])
    );
    write(out, "jwt", "shared", token.as_bytes())?;
    write(
        out,
        "jwt",
        "shared-bearer",
        format!("Bearer {token}").as_bytes(),
    )?;

    // cn_pattern: the conventions' own examples, and near misses.
    for (i, cn) in [
        "01234567890.labdemo.it",
        "01234567890.lab-demo.asl.it",
        "0123456789.labdemo.it",
        "A123#160#01234567890ABC",
        "A7#160#RSSMRA22A01A399ZX",
        "A#160#01234567890ABC",
    ]
    .iter()
    .enumerate()
    {
        write(out, "cn_pattern", &format!("cn-{i}"), cn.as_bytes())?;
    }

    // ebrim and soap_envelope: XDS.b messages around the shared CDA documents.
    let entry = EntrySpec::lab("Document01", "2.16.840.1.113883.2.9.2.160.4.4^FUZZ");
    let objects = format!(
        "{}{}{}",
        document_entry(&entry),
        submission_set("2.16.840.1.113883.2.9.2.160.4.3.1", PATIENT),
        has_member("hm", "Document01")
    );
    let register = submit(&objects);
    let provide = format!(
        "<xdsb:ProvideAndRegisterDocumentSetRequest xmlns:xdsb=\"urn:ihe:iti:xds-b:2007\">{register}<xdsb:Document id=\"Document01\"><xop:Include xmlns:xop=\"http://www.w3.org/2004/08/xop/include\" href=\"cid:doc@fuzz\"/></xdsb:Document></xdsb:ProvideAndRegisterDocumentSetRequest>"
    );
    let query = format!(
        "<query:AdhocQueryRequest xmlns:query=\"urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0\" xmlns:rim=\"urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0\"><query:ResponseOption returnType=\"LeafClass\" returnComposedObjects=\"true\"/><rim:AdhocQuery id=\"urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d\"><rim:Slot name=\"$XDSDocumentEntryPatientId\"><rim:ValueList><rim:Value>'{PATIENT}'</rim:Value></rim:ValueList></rim:Slot><rim:Slot name=\"$XDSDocumentEntryStatus\"><rim:ValueList><rim:Value>('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')</rim:Value></rim:ValueList></rim:Slot></rim:AdhocQuery></query:AdhocQueryRequest>"
    );
    let retrieve = "<xdsb:RetrieveDocumentSetRequest xmlns:xdsb=\"urn:ihe:iti:xds-b:2007\"><xdsb:DocumentRequest><xdsb:RepositoryUniqueId>2.16.840.1.113883.2.9.2.160.4.5.1</xdsb:RepositoryUniqueId><xdsb:DocumentUniqueId>2.16.840.1.113883.2.9.2.160.4.4^FUZZ</xdsb:DocumentUniqueId></xdsb:DocumentRequest></xdsb:RetrieveDocumentSetRequest>";
    let remove = "<lcm:RemoveObjectsRequest xmlns:lcm=\"urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0\" xmlns:rim=\"urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0\"><rim:ObjectRefList><rim:ObjectRef id=\"urn:uuid:a6e06ca8-0c75-4064-9e5c-88b9045a96f6\"/></rim:ObjectRefList></lcm:RemoveObjectsRequest>";
    for (name, xml) in [
        ("provide", provide.as_str()),
        ("register", register.as_str()),
        ("query", query.as_str()),
        ("retrieve", retrieve),
        ("remove", remove),
    ] {
        write(out, "ebrim", name, xml.as_bytes())?;
        let env = soap12(&format!("urn:ihe:iti:2007:{name}"), xml);
        write(
            out,
            "soap_envelope",
            name,
            format!("application/soap+xml; charset=UTF-8\n{env}").as_bytes(),
        )?;
    }
    for (i, cda) in cdas.iter().enumerate() {
        let env = soap12("urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b", &provide);
        let (ct, body) = mtom(&env, &[("doc@fuzz", "text/xml", &std::fs::read(cda)?)]);
        let mut seed = format!("{ct}\n").into_bytes();
        seed.extend_from_slice(&body);
        write(out, "soap_envelope", &format!("mtom-{i}"), &seed)?;
    }
    let legacy = integration_tests::soap::envelope(
        "getDocumentList",
        "<fse:idPaziente>RSSMRA22A01A399Z</fse:idPaziente>",
        "",
    );
    write(
        out,
        "soap_envelope",
        "legacy-11",
        format!("text/xml; charset=UTF-8\n{legacy}").as_bytes(),
    )?;
    println!("seeds written under {}", out.display());
    Ok(())
}
