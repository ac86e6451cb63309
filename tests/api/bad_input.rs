//! Bad input gets a contract error and nothing crashes.

use dev_tools::dev_jwt::JwtOperation;
use integration_tests::stack::{StackOptions, TestStack, form, tokens};
use serde_json::json;

use crate::{LAB_OK, VALIDATION_BODY, pdf, read, validate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_contract_errors() {
    let stack = TestStack::spawn(StackOptions {
        max_body_bytes: 64 * 1024,
        ..Default::default()
    })
    .await;
    let lab = pdf(LAB_OK);
    let (auth, sig) = tokens(JwtOperation::Validation, Some(&lab), json!({}), "producer");
    let client = stack.client(Some("producer"));
    let url = format!("{}/documents/validation", stack.mw_url);
    let post = || {
        client
            .post(&url)
            .header("Authorization", &auth)
            .header("FSE-JWT-Signature", &sig)
    };

    // The gateway's GovWay validates the request against the published OpenAPI first
    // (docs/gateway-fidelity.md, row S13): its answers come back through the middleware.
    let govway = Some("https://govway.org/handling-errors/400/InvalidRequestContent.html");
    let prefix = "Request content not conform to API specification: Validation error(s) :\n";
    // Malformed multipart.
    let r = post()
        .header("Content-Type", "multipart/form-data; boundary=XX")
        .body("--XX\r\nbroken")
        .send()
        .await
        .unwrap();
    let (s, tx, b) = read(r).await;
    assert_eq!((s, b["type"].as_str()), (400, govway), "{b}");
    let unreadable = format!(
        "{prefix}An error occurred when getting the body content from type 'multipart/form-data; boundary=XX'.\n"
    );
    assert!(
        b["detail"].as_str().unwrap().starts_with(&unreadable),
        "{b}"
    );
    assert!(!tx.is_empty());
    // Missing file part.
    let r = post()
        .multipart(reqwest::multipart::Form::new().text("requestBody", VALIDATION_BODY))
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    assert_eq!(
        (s, b["detail"].as_str()),
        (
            400,
            Some(
                format!(
                    "{prefix}body: Field 'file' is required. (code: 1026)\nFrom: body.<required>\n"
                )
                .as_str()
            )
        ),
        "{b}"
    );
    // Missing activity (live #312's second finding).
    let r = post()
        .multipart(form(r#"{"mode":"ATTACHMENT"}"#, lab.clone()))
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    assert_eq!(
        (s, b["detail"].as_str()),
        (400, Some(format!("{prefix}body.requestBody: Field 'activity' is required. (code: 1026)\nFrom: body.requestBody.<#/components/schemas/ValidationCDAReqDTO>.<required>\n").as_str())),
        "{b}"
    );
    // Not a PDF.
    let r = post()
        .multipart(form(VALIDATION_BODY, b"hello, not a pdf".to_vec()))
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    assert_eq!((s, b["type"].as_str()), (415, Some("/msg/document-type")));
    // Broken JWT: forwarded as received, the gateway answers.
    let r = client
        .post(&url)
        .header("Authorization", &auth)
        .header("FSE-JWT-Signature", "not-a-jwt")
        .multipart(form(VALIDATION_BODY, lab.clone()))
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    assert_eq!(
        (s, b["type"].as_str()),
        (403, Some("/msg/mandatory-element-token")),
        "{b}"
    );
    // Missing signature token.
    let r = client
        .post(&url)
        .header("Authorization", &auth)
        .multipart(form(VALIDATION_BODY, lab.clone()))
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    assert_eq!((s, b["type"].as_str()), (403, Some("/msg/missing-token")));
    // Over the limit, with and without Content-Length.
    let big = vec![b'%'; 100 * 1024];
    let r = post()
        .multipart(form(VALIDATION_BODY, big.clone()))
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    assert_eq!(
        (s, b["type"].as_str()),
        (413, Some("mw/payload-too-large")),
        "{b}"
    );
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = big
        .chunks(8192)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let chunks = futures_util::stream::iter(chunks);
    let r = post()
        .header("Content-Type", "multipart/form-data; boundary=XX")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(read(r).await.0, 413);
    // Unknown route.
    let r = client
        .get(format!("{}/nothing-here", stack.mw_url))
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    assert_eq!((s, b["type"].as_str()), (404, Some("mw/not-found")));
    // Still serving.
    assert_eq!(read(validate(&stack, &lab).await).await.0, 201);
}
