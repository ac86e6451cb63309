//! The status answers as the gateway gives them (docs/gateway-fidelity.md rows S4, S5),
//! through the middleware: the checks before the lookup, the status service's own 404, the
//! visibility rule, and no regional warning anywhere.

use dev_tools::dev_jwt::JwtOperation;
use integration_tests::stack::{StackOptions, TestStack, tokens};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{LAB_OK, pdf, read, validate};

/// A status call made by the region straight to the simulator.
async fn status_direct(stack: &TestStack, path: &str, sub: &str) -> (u16, Value) {
    let (auth, _) = tokens(
        JwtOperation::Validation,
        None,
        json!({ "sub": sub, "aud": stack.sim_url }),
        "region-sig",
    );
    let r = stack
        .client(Some("region-auth"))
        .get(format!("{}{path}", stack.sim_url))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    (s, b)
}

async fn status(stack: &TestStack, path: &str, sub: &str) -> (u16, Value) {
    status_as(stack, "producer", path, sub).await
}

/// A status call through the middleware as producer `client` (its certificate and
/// tokens), the bearer's `sub` given.
pub(crate) async fn status_as(
    stack: &TestStack,
    client: &str,
    path: &str,
    sub: &str,
) -> (u16, Value) {
    let (auth, _) = tokens(
        JwtOperation::Validation,
        None,
        json!({ "sub": sub }),
        client,
    );
    let r = stack
        .call(Some(client), Method::GET, path, None)
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    (s, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_checks_come_before_the_lookup_and_unknown_ids_get_the_status_services_404() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let ours = "S1#160#80017210727FSEMW";
    let unknown = "2.16.840.1.113883.2.9.2.160.4.4.abc^^^^urn:ihe:iti:xdw:2013:workflowInstanceId";

    // Through the middleware, an id that is not the producer's gets the status service's
    // 404 without reaching the gateway (issue 19 §5, docs/outcomes.md).
    let not_found = json!({"type": "/err/resource", "title": "Resource error", "detail": "Record non trovato", "status": 404, "instance": "/not-found"});
    for path in [
        "/status/search/0123456789abcdef".to_string(),
        format!("/status/{unknown}"),
        "/status/UNKNOWN_WORKFLOW_ID".to_string(),
    ] {
        let (s, b) = status(&stack, &path, ours).await;
        assert_eq!((s, &b), (404, &not_found), "{path}");
    }
    assert!(
        stack.observed().await.is_empty(),
        "none reached the gateway"
    );
    // The gateway's own answers, asked directly: an unknown id, the placeholder.
    let (s, b) = status_direct(&stack, "/status/search/0123456789abcdef", ours).await;
    assert_eq!((s, b), (404, not_found));
    let (s, b) = status_direct(&stack, "/status/UNKNOWN_WORKFLOW_ID", ours).await;
    assert_eq!((s, b["type"].as_str()), (400, Some("/msg/wii")), "{b}");
    assert_eq!(b["detail"], "Il wii non è valido");

    // The events of a workflow are visible to its region only.
    let (s, _, v) = read(validate(&stack, &pdf(LAB_OK)).await).await;
    assert_eq!(s, 201, "{v}");
    let wii = v["workflowInstanceId"].as_str().unwrap();

    // A sub without a region is refused before the lookup: 401, with `status` 400 in the body.
    let (s, b) = status(&stack, &format!("/status/{wii}"), "RSSMRA22A01A399Z").await;
    assert_eq!(s, 401, "{b}");
    assert_eq!(b["status"], 400, "{b}");
    assert_eq!(b["type"], "/msg/mandatory-element-token");
    assert_eq!(b["detail"], "Token JWT non valido.");
    assert_eq!(b["instance"], "/missing-jwt");

    let (s, b) = status(&stack, &format!("/status/{wii}"), "S1#150#80017210727OTHER").await;
    assert_eq!(s, 401, "{b}");
    assert_eq!(
        (
            b["type"].as_str(),
            b["detail"].as_str(),
            b["instance"].as_str()
        ),
        (
            Some("/msg/unauthorized"),
            Some("Mismatch sub/issuer"),
            Some("/msg/invalid-issuer-sub")
        )
    );
    let (s, b) = status(&stack, &format!("/status/{wii}"), ours).await;
    assert_eq!(s, 200, "{b}");
    assert!(b.get("warning").is_none(), "{b}");
}

/// After an accepted publication the gateway's later steps appear in its status, each in
/// its time (simulator clock): INI, EDS, the regional archive and its final status; a
/// `CRASH_INI` document stops at INI. Dates are Rome's, with milliseconds (review S15).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_asynchronous_steps_follow_in_their_time_and_a_crash_stops_them() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let ours = "S1#160#80017210727FSEMW";
    let kinds = |b: &Value| -> Vec<(String, String)> {
        b["transactionData"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let f = |k: &str| e[k].as_str().unwrap().to_string();
                (f("eventType"), f("eventStatus"))
            })
            .collect()
    };
    let ok = |k: &str| (k.to_string(), "SUCCESS".to_string());
    let (s, _, v) = read(validate(&stack, &crate::signed_lab()).await).await;
    assert_eq!(s, 201, "{v}");
    let (s, _, b) = crate::create(&stack, "2.16.840.1.113883.2.9.2.160.4.4^ASYNC", json!({})).await;
    assert_eq!(s, 202, "{b}");
    let wii = b["workflowInstanceId"].as_str().unwrap().to_string();
    let (s, b) = status(&stack, &format!("/status/{wii}"), ours).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(kinds(&b), [ok("VALIDATION"), ok("PUBLICATION")], "{b}");
    let date = b["transactionData"][1]["eventDate"]
        .as_str()
        .unwrap()
        .to_string();
    let parsed = time::OffsetDateTime::parse(&date, &time::format_description::well_known::Rfc3339);
    let rome_offset = date.ends_with("+01:00") || date.ends_with("+02:00");
    assert!(
        parsed.is_ok() && rome_offset && date.len() == 29 && &date[19..20] == ".",
        "{date}"
    );

    // Ten seconds later on the gateway's clock, the chain is complete.
    crate::gateway_rules::set_clock(&stack, 10).await;
    let (_, b) = status(&stack, &format!("/status/{wii}"), ours).await;
    assert_eq!(
        kinds(&b),
        [
            ok("VALIDATION"),
            ok("PUBLICATION"),
            ok("SEND_TO_INI"),
            ok("SEND_TO_EDS"),
            ok("EDS_WORKFLOW"),
            ok("SEND_TO_UAR"),
            ok("UAR_FINAL_STATUS")
        ],
        "{b}"
    );

    // CRASH_INI: published without a validation (the accreditation prefix), refused by INI.
    let (s, _, b) = crate::create(&stack, "CRASH_INI^ASYNC", json!({})).await;
    assert_eq!(s, 202, "{b}");
    let wii = b["workflowInstanceId"].as_str().unwrap().to_string();
    crate::gateway_rules::set_clock(&stack, 20).await;
    let (_, b) = status(&stack, &format!("/status/{wii}"), ours).await;
    assert_eq!(
        kinds(&b),
        [
            ok("PUBLICATION"),
            ("SEND_TO_INI".to_string(), "BLOCKING_ERROR".to_string())
        ],
        "{b}"
    );
}

/// The events each operation leaves, as the dispatcher sends them (row S15): a VERIFICA's
/// note, refusals under the placeholder id and issuer (found by their traceID), the
/// validate-and-create's two phases, and a delete's INI and EDS steps without a `DELETE`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_operation_leaves_the_dispatchers_events() {
    let stack = TestStack::spawn(StackOptions {
        // The dispatcher's own answers: behind GovWay's content validation (off here, as a
        // GovWay configuration may have it) most of these requests would not reach it
        // (docs/gateway-fidelity.md, row S13).
        govway_validates_content: false,
        ..Default::default()
    })
    .await;
    let trail = |b: &Value| -> Vec<Value> { b["transactionData"].as_array().unwrap().clone() };
    let lab = pdf(LAB_OK);
    // VERIFICA: one VALIDATION event with its note.
    let verifica = r#"{"healthDataFormat":"CDA","mode":"ATTACHMENT","activity":"VERIFICA"}"#;
    let (s, _, v) = crate::send_read(
        &stack,
        Method::POST,
        "/documents/validation",
        JwtOperation::Validation,
        &lab,
        verifica,
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let b = of_trace(&stack, &v).await;
    let events = trail(&b);
    assert_eq!(events.len(), 1, "{b}");
    assert_eq!(
        events[0]["message"],
        "Attenzione - è stato chiamato l'endpoint di validazione con VERIFICA"
    );
    // A body refusal: the placeholder id.
    let (s, _, v) = crate::send_read(
        &stack,
        Method::POST,
        "/documents/validation",
        JwtOperation::Validation,
        &lab,
        r#"{"mode":"ATTACHMENT"}"#,
        json!({}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let b = of_trace(&stack, &v).await;
    let e = &trail(&b)[0];
    assert_eq!(
        (e["eventType"].as_str(), e["eventStatus"].as_str()),
        (Some("VALIDATION"), Some("BLOCKING_ERROR")),
        "{b}"
    );
    // The token was read before the body: its fields are on the event.
    assert_eq!(e["workflowInstanceId"], "UNKNOWN_WORKFLOW_ID");
    assert!(
        e["issuer"].as_str().unwrap().starts_with("integrity:"),
        "{b}"
    );
    assert!(e.get("subject").is_some(), "{b}");
    assert_eq!(e["message"], "Il campo activity deve essere valorizzato.");
    // A create of a CDA never validated: PUBLICATION refused, the same placeholder.
    let (s, _, v) = crate::create(
        &stack,
        "2.16.840.1.113883.2.9.2.160.4.4^EV-NOVAL",
        json!({}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let b = of_trace(&stack, &v).await;
    let e = &trail(&b)[0];
    assert_eq!(
        (e["eventType"].as_str(), e["workflowInstanceId"].as_str()),
        (Some("PUBLICATION"), Some("UNKNOWN_WORKFLOW_ID")),
        "{b}"
    );
    // A create's catch blocks see the placeholder: no token fields.
    assert_eq!(e["issuer"], "UNDEFINED_JWT_ISSUER", "{b}");
    assert_eq!(e["message"], "Il CDA non risulta validato");
    // Validate-and-create: its validation phase, then the publication.
    let id = "2.16.840.1.113883.2.9.2.160.4.4^EV-VC";
    let (s, _, v) = crate::send_read(
        &stack,
        Method::POST,
        "/documents/validate-and-create",
        JwtOperation::Create,
        &crate::signed_lab(),
        &crate::publication_body(id),
        json!({}),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let b = of_workflow(&stack, &v).await;
    let vc = trail(&b);
    let kinds: Vec<&str> = vc
        .iter()
        .take(2)
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["VALIDATION_FOR_PUBLICATION", "PUBLICATION"], "{b}");
    assert_eq!(vc[1]["tipoAttivita"], "CON");
    // Delete: INI's references, EDS, INI; tipoAttivita PHR; no DELETE event.
    let (auth, sig) = tokens(JwtOperation::Delete, None, json!({}), "producer");
    let r = stack
        .call(
            Some("producer"),
            Method::DELETE,
            &format!("/documents/{}", id.replace('^', "%5E")),
            Some((&auth, &sig)),
        )
        .send()
        .await
        .unwrap();
    let (s, _, v) = read(r).await;
    assert_eq!(s, 200, "{v}");
    let b = of_workflow(&stack, &v).await;
    let events = trail(&b);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["RIFERIMENTI_INI", "EDS_DELETE", "INI_DELETE"],
        "{b}"
    );
    assert!(
        events[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Riferimenti trovati: [urn:uuid:"),
        "{b}"
    );
    assert_eq!(events[2]["message"], "Delete effettuata su ini");
    assert!(events.iter().all(|e| e["tipoAttivita"] == "PHR"), "{b}");
}

/// The status of the traceID of an answer.
async fn of_trace(stack: &TestStack, answer: &Value) -> Value {
    let path = format!("/status/search/{}", answer["traceID"].as_str().unwrap());
    status(stack, &path, "S1#160#80017210727FSEMW").await.1
}

/// The status of the workflowInstanceId of an answer.
async fn of_workflow(stack: &TestStack, answer: &Value) -> Value {
    let path = format!("/status/{}", answer["workflowInstanceId"].as_str().unwrap());
    status(stack, &path, "S1#160#80017210727FSEMW").await.1
}
