//! Hostile producers: slow clients, lying sizes, broken forms, forged tokens, path tricks and
//! SQL in search fields. Each gets the contract's answer, nothing reaches the gateway that
//! should not, and the service keeps answering (docs/reliability.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dev_tools::dev_jwt::JwtOperation;
use integration_tests::stack::{CONSOLE_USERS, StackOptions, TestStack, pki, tokens};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{LAB_OK, pdf, read, validate, validate_with};

/// A raw TLS connection to the middleware as the demo producer.
async fn connect(stack: &TestStack) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use middleware::server::tls::{load_certs, load_key, load_roots};
    let pki = pki();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(load_roots(&pki.cert("ca-bundle")).unwrap())
        .with_client_auth_cert(
            load_certs(&pki.cert("producer")).unwrap(),
            load_key(&pki.key("producer")).unwrap(),
        )
        .unwrap();
    let port = stack
        .mw_url
        .trim_start_matches("https://localhost:")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let tcp = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap()
}

/// Everything the server sends until it closes the connection (or `limit` passes).
async fn read_to_close(
    conn: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    limit: Duration,
) -> (String, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(limit, conn.read_to_end(&mut got)).await;
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

fn head(path: &str, content_length: u64, auth: &str, sig: &str) -> String {
    format!(
        "POST /v1{path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {content_length}\r\nAuthorization: {auth}\r\nFSE-JWT-Signature: {sig}\r\n\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_stalled_bodies_are_cut() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let lab = pdf(LAB_OK);
    // Headers that never end: the connection is closed after the header timeout (5 s here).
    let mut conn = connect(&stack).await;
    conn.write_all(b"POST /v1/documents/validation HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let (_, waited) = read_to_close(&mut conn, Duration::from_secs(20)).await;
    assert!(waited < Duration::from_secs(15), "closed after {waited:?}");

    // A body that stops: 408 mw/incomplete-body, for a streamed validation and for a
    // spooled publication alike.
    for (path, op) in [
        ("/documents/validation", JwtOperation::Validation),
        ("/documents/validate-and-create", JwtOperation::Create),
    ] {
        let (auth, sig) = tokens(op, Some(&lab), json!({}), "producer");
        let mut conn = connect(&stack).await;
        conn.write_all(head(path, 100_000, &auth, &sig).as_bytes())
            .await
            .unwrap();
        conn.write_all(b"--XyZ\r\nContent-Disposition: form-data; name=\"requestBody\"\r\n\r\n{")
            .await
            .unwrap();
        let (answer, waited) = read_to_close(&mut conn, Duration::from_secs(20)).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains("mw/incomplete-body"), "{path}: {answer}");
        assert!(waited < Duration::from_secs(15), "{path}: {waited:?}");
    }
    let rows = stack.transactions("outcome=incomplete_body").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        stack.metrics().await.contains("status=\"408\""),
        "counted by status"
    );
    // Still serving.
    assert_eq!(read(validate(&stack, &lab).await).await.0, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_sizes_and_broken_forms_get_contract_errors() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let lab = pdf(LAB_OK);
    let (auth, sig) = tokens(JwtOperation::Validation, Some(&lab), json!({}), "producer");

    // 2 GB declared: refused at once, nothing read.
    let mut conn = connect(&stack).await;
    conn.write_all(head("/documents/validation", 2 << 30, &auth, &sig).as_bytes())
        .await
        .unwrap();
    let (answer, _) = read_to_close(&mut conn, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("mw/payload-too-large"), "{answer}");

    // Thousands of parts, and a multipart type without its boundary: forwarded (the
    // gateway judges the form), answered with the gateway's problem document.
    let mut many = String::new();
    for i in 0..5000 {
        many.push_str(&format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"p{i}\"\r\n\r\nx\r\n"
        ));
    }
    many.push_str("--XyZ--\r\n");
    for (ct, body) in [
        ("multipart/form-data; boundary=XyZ", many.into_bytes()),
        ("multipart/form-data", b"--XyZ\r\n\r\nx\r\n--XyZ--".to_vec()),
    ] {
        let r = stack
            .call(
                Some("producer"),
                reqwest::Method::POST,
                "/documents/validation",
                Some((&auth, &sig)),
            )
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        let (s, tx, b) = read(r).await;
        assert!((400..500).contains(&s), "{ct}: {s} {b}");
        assert!(b["type"].is_string(), "{ct}: a problem document, {b}");
        assert!(!tx.is_empty());
    }
    assert_eq!(read(validate(&stack, &lab).await).await.0, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_segments_in_identifiers_never_reach_the_gateway() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let (auth, sig) = tokens(JwtOperation::Delete, None, json!({}), "producer");
    for (method, path) in [
        (reqwest::Method::DELETE, "/documents/.."),
        (reqwest::Method::DELETE, "/documents/%2e%2E"),
        (reqwest::Method::PUT, "/documents/..%2F..%2Fadmin/metadata"),
        (reqwest::Method::PUT, "/documents/%2E%2E/metadata"),
    ] {
        let r = stack
            .call(Some("producer"), method.clone(), path, Some((&auth, &sig)))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let (s, _, b) = read(r).await;
        assert_eq!(
            (s, b["type"].as_str()),
            (404, Some("mw/not-found")),
            "{path}: {b}"
        );
    }
    assert!(stack.observed().await.is_empty(), "nothing forwarded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_are_refused() {
    let stack = TestStack::spawn(StackOptions {
        case: 2,
        ..Default::default()
    })
    .await;
    let lab = pdf(LAB_OK);
    let (auth, _) = tokens(JwtOperation::Validation, Some(&lab), json!({}), "producer");
    let (_, sig) = tokens(JwtOperation::Validation, Some(&lab), json!({}), "producer");
    let parts: Vec<&str> = auth.trim_start_matches("Bearer ").split('.').collect();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let with_alg = |alg: &str, signature: &[u8]| {
        let mut h = header.clone();
        h["alg"] = json!(alg);
        format!(
            "Bearer {}.{}.{}",
            URL_SAFE_NO_PAD.encode(h.to_string()),
            parts[1],
            URL_SAFE_NO_PAD.encode(signature)
        )
    };
    // HS256 keyed with the producer's public certificate, as the classic confusion attack.
    let cert = std::fs::read(pki().cert("producer")).unwrap();
    let hs256 = {
        let mut h = header.clone();
        h["alg"] = json!("HS256");
        let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(h.to_string()), parts[1]);
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &cert);
        format!(
            "Bearer {input}.{}",
            URL_SAFE_NO_PAD.encode(aws_lc_rs::hmac::sign(&key, input.as_bytes()).as_ref())
        )
    };
    let mut bad_signature = URL_SAFE_NO_PAD
        .decode(auth.rsplit('.').next().unwrap())
        .unwrap();
    bad_signature[10] ^= 1;
    for (what, token) in [
        ("alg none", with_alg("none", b"")),
        ("HS256 with the public key", hs256),
        ("altered signature", with_alg("RS256", &bad_signature)),
    ] {
        let (s, _, b) = validate_with(&stack, Some("producer"), &lab, (&token, &sig)).await;
        assert_eq!(
            (s, b["type"].as_str()),
            (403, Some("mw/unauthorized")),
            "{what}: {b}"
        );
    }
    crate::assert_jwt_refusals_not_forwarded(&stack, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_in_search_fields_is_only_text() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    assert_eq!(read(validate(&stack, &pdf(LAB_OK)).await).await.0, 201);
    let all = stack.transactions("").await.len();
    assert!(all >= 1);
    for field in [
        "id",
        "document_id",
        "cf",
        "client_cn",
        "asl",
        "operation",
        "outcome",
    ] {
        for payload in [
            "' OR '1'='1",
            "x'; DROP TABLE transactions; --",
            "%' UNION SELECT null --",
            "\\'; SELECT pg_sleep(5); --",
        ] {
            let q = format!("{field}={}", urlencode(payload));
            let started = Instant::now();
            let rows = stack.transactions(&q).await;
            assert!(rows.is_empty(), "{field}={payload}: {rows:?}");
            assert!(
                started.elapsed() < Duration::from_secs(4),
                "{field}: no sleep ran"
            );
        }
    }
    assert_eq!(
        stack.transactions("").await.len(),
        all,
        "the table is intact"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_search_form_takes_sql_and_markup_as_text() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    assert_eq!(read(validate(&stack, &pdf(LAB_OK)).await).await.0, 201);
    let admin = &stack.admin_url;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (user, password, _) = CONSOLE_USERS[0];
    let r = plain
        .post(format!("{admin}/console/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("user={user}&password={}", urlencode(password)))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection());
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let page = |query: String| {
        let (plain, cookie) = (plain.clone(), cookie.clone());
        let url = format!("{admin}/console/transactions?{query}");
        async move {
            let started = Instant::now();
            let r = plain
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap(), started.elapsed())
        }
    };
    const ROW: &str = "<a href=\"/console/transactions/";
    let (s, all, _) = page(String::new()).await;
    assert_eq!(s, 200);
    assert!(
        all.contains(ROW),
        "the unfiltered list shows the validation"
    );
    for field in [
        "id",
        "cf",
        "producer",
        "asl",
        "operation",
        "outcome",
        "from",
        "to",
    ] {
        for payload in [
            "' OR '1'='1",
            "x'; DROP TABLE transactions; --",
            "%' UNION SELECT null --",
            "'; SELECT pg_sleep(5); --",
            "\"><script>alert(1)</script>",
        ] {
            let (s, body, took) = page(format!("{field}={}", urlencode(payload))).await;
            assert_eq!(s, 200, "{field}={payload}");
            assert!(took < Duration::from_secs(4), "{field}: no sleep ran");
            assert!(
                !body.contains("<script>alert(1)"),
                "{field}: markup escaped"
            );
            // Dates that are not dates mean "any"; every other field matches nothing.
            if !matches!(field, "from" | "to") {
                assert!(!body.contains(ROW), "{field}={payload}: no row");
            }
        }
    }
    // An identifier in the path that is SQL: not found, no error.
    let r = plain
        .get(format!(
            "{admin}/console/transactions/{}",
            urlencode("' OR 1=1 --")
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    assert_eq!(stack.transactions("").await.len(), 1, "the table is intact");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtom_part_and_attribute_bombs_are_faults() {
    use integration_tests::xds::{mtom, soap12};
    // A small body limit (6 MiB) keeps the size bomb quick.
    let stack = TestStack::spawn(StackOptions {
        max_body_bytes: 6 << 20,
        ..Default::default()
    })
    .await;
    const PROVIDE: &str = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b";
    // 5,000 tiny parts: refused by count before anything is read as a submission.
    let parts: Vec<(String, Vec<u8>)> = (0..5000)
        .map(|i| (format!("p{i}@bomb"), b"x".to_vec()))
        .collect();
    let refs: Vec<(&str, &str, &[u8])> = parts
        .iter()
        .map(|(cid, data)| (cid.as_str(), "application/octet-stream", data.as_slice()))
        .collect();
    let (ct, body) = mtom(&soap12(PROVIDE, "<x/>"), &refs);
    let (s, _, answer) =
        crate::xds_repository::post(&stack, "/xds/repository/aslba", &ct, body).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert_eq!(s, 400, "{answer}");
    assert!(
        answer.contains("Fault") && answer.contains("more than 1000 parts"),
        "{answer}"
    );
    // One part larger than the body limit, sent without a declared length: read to a bounded
    // end, then refused by size, as a fault.
    let big = vec![b'x'; 7 << 20];
    let (ct, body) = mtom(
        &soap12(PROVIDE, "<x/>"),
        &[("big@bomb", "application/pdf", &big)],
    );
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(1 << 20).map(|c| Ok(c.to_vec())).collect();
    let base = stack.mw_url.trim_end_matches("/v1");
    let r = stack
        .client(Some("producer"))
        .post(format!("{base}/xds/repository/aslba"))
        .header("content-type", ct)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("an answer, not a reset");
    let status = r.status().as_u16();
    let answer = r.text().await.unwrap();
    assert_eq!(status, 413, "{}", &answer[..answer.len().min(400)]);
    assert!(answer.contains("Fault"), "{answer}");
    // A 4 MiB attribute: read within the limits, then refused as a request the service does
    // not know.
    let attribute = format!("<x a=\"{}\"/>", "y".repeat(4 << 20));
    let (s, _, answer) = crate::xds_repository::post(
        &stack,
        "/xds/registry",
        "application/soap+xml",
        soap12("urn:example:Nothing", &attribute).into_bytes(),
    )
    .await;
    assert_eq!(
        s,
        400,
        "{}",
        String::from_utf8_lossy(&answer[..answer.len().min(400)])
    );
    // Still serving.
    assert_eq!(read(validate(&stack, &pdf(LAB_OK)).await).await.0, 201);
}
