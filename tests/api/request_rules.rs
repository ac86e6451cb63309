//! The publication body as the dispatcher reads it, through the middleware
//! (docs/gateway-fidelity.md rows S9, S16): Jackson's binding (enumerations, lists), the
//! mandatory-field checks with the atti clinici and the description OIDs, lenient dates,
//! the body's document id also on a replace, and `identificativoRep` checked late.

use dev_tools::dev_jwt::JwtOperation;
use integration_tests::stack::{StackOptions, TestStack};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{publication_body, read, send_read, signed_lab, validate};

const CREATION_DTO: &str =
    "it.finanze.sanita.fse2.ms.gtw.dispatcher.dto.request.PublicationCreationReqDTO";

/// A create whose body is the standard one with `changes` applied (`null` removes a field).
async fn create_with(stack: &TestStack, id: &str, changes: Value) -> (u16, Value) {
    let mut body: Value = serde_json::from_str(&publication_body(id)).unwrap();
    for (k, v) in changes.as_object().unwrap() {
        match v {
            Value::Null => body.as_object_mut().unwrap().remove(k),
            _ => body.as_object_mut().unwrap().insert(k.clone(), v.clone()),
        };
    }
    let (s, _, b) = send_read(
        stack,
        Method::POST,
        "/documents",
        JwtOperation::Create,
        &signed_lab(),
        &body.to_string(),
        json!({}),
    )
    .await;
    (s, b)
}

fn refusal(b: &Value) -> (&str, &str, &str) {
    let f = |k: &str| b[k].as_str().unwrap_or("<absent>");
    (f("type"), f("detail"), f("instance"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_body_binds_and_is_checked_as_the_dispatcher_does() {
    let stack = TestStack::spawn(StackOptions {
        // The dispatcher's own answers: behind GovWay's content validation (off here, as a
        // GovWay configuration may have it) most of these requests would not reach it
        // (docs/gateway-fidelity.md, row S13).
        govway_validates_content: false,
        ..Default::default()
    })
    .await;
    let id = "2.16.840.1.113883.2.9.2.160.4.4^BODY";
    let mandatory = "/msg/mandatory-element";
    let cases = [
        // The enumeration of 89 practice settings: AD_PSC016 is not one of them (Jackson).
        (
            json!({"assettoOrganizzativo": "AD_PSC016"}),
            (mandatory, format!("Errore durante la conversione da json a oggetto {CREATION_DTO}"), "/request-missing-field"),
        ),
        // A list must be a list.
        (
            json!({"attiCliniciRegoleAccesso": "P99"}),
            (mandatory, format!("Errore durante la conversione da json a oggetto {CREATION_DTO}"), "/request-missing-field"),
        ),
        // Every atto clinico is read; the last unknown one is named.
        (
            json!({"attiCliniciRegoleAccesso": ["P99", "XX1", "p97", "XX2"]}),
            (mandatory, "Il campo atti clinici XX2 non è consentito".into(), "/request-missing-field"),
        ),
        // A regional catalogue OID: the enum's wildcard never matches (Pattern.quote).
        (
            json!({"descriptions": ["A1^Visita^2.16.840.1.113883.2.9.2.160.6.1.11"]}),
            (mandatory, "Valorizzare correttamente il campo descriptions rispettando i valori di riferimento per gli OID".into(), "/request-missing-field"),
        ),
        // Java's split drops trailing empty pieces: `A^B^^` has two.
        (
            json!({"descriptions": ["A^B^^"]}),
            (mandatory, "Valorizzare correttamente il campo descriptions rispettando la forma: [CODICE]^[Descrizione]^[OID]".into(), "/request-missing-field"),
        ),
        // Fewer than 14 digits cannot be parsed even leniently.
        (
            json!({"dataInizioPrestazione": "2024102011"}),
            ("/msg/invalid-format", "Il campo data inizio deve essere valorizzato correttamente".into(), "/request-invalid-date-format"),
        ),
    ];
    for (changes, expected) in cases {
        let (s, b) = create_with(&stack, id, changes.clone()).await;
        assert_eq!(s, 400, "{changes}: {b}");
        let (e_type, e_detail, e_instance) = &expected;
        assert_eq!(
            refusal(&b),
            (*e_type, e_detail.as_str(), *e_instance),
            "{changes}"
        );
    }
    // What the lenient reading lets through reaches the validation record.
    let lenient = json!({
        "dataInizioPrestazione": "20241320110012 e poi testo",
        "descriptions": ["^Senza codice^2.16.840.1.113883.2.9.6.1.5", "A^B^2.16.840.1.113883.6.73^"],
        "attiCliniciRegoleAccesso": ["p99"],
    });
    let (s, b) = create_with(&stack, id, lenient).await;
    assert_eq!(
        (s, b["type"].as_str()),
        (400, Some("/msg/cda-match")),
        "{b}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replace_needs_the_bodys_id_and_the_repository_is_checked_after_the_record_is_used() {
    let stack = TestStack::spawn(StackOptions {
        // The dispatcher's own answers: behind GovWay's content validation (off here, as a
        // GovWay configuration may have it) most of these requests would not reach it
        // (docs/gateway-fidelity.md, row S13).
        govway_validates_content: false,
        ..Default::default()
    })
    .await;
    let signed = signed_lab();
    // The replace body without identificativoDoc: `isValidMasterId(null)`.
    let mut body: Value = serde_json::from_str(&publication_body("x^y")).unwrap();
    body.as_object_mut().unwrap().remove("identificativoDoc");
    let (s, _, b) = send_read(
        &stack,
        Method::PUT,
        "/documents/2.16.840.1.113883.2.9.2.160.4.4%5EOLD",
        JwtOperation::Replace,
        &signed,
        &body.to_string(),
        json!({}),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(
        refusal(&b),
        (
            "/msg/id-doc",
            "L'identificativo documento non è valido",
            "/invalid-id"
        )
    );

    // 015 is not an organisation of `SubjectOrganizationEnum`: refused by the mapping,
    // re-wrapped as a generic error, after the validation record was used.
    assert_eq!(read(validate(&stack, &signed).await).await.0, 201);
    let id = "2.16.840.1.113883.2.9.2.160.4.4^REP";
    let (s, b) = create_with(
        &stack,
        id,
        json!({"identificativoRep": "2.16.840.1.113883.2.9.2.015.4.5.1"}),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["title"], "Errore generico.");
    assert_eq!(
        refusal(&b),
        (
            "/msg/generic-error",
            "Error: Invalid format for repositoryUniqueId",
            "/request-invalid-date-format"
        )
    );
    let (s, b) = create_with(&stack, id, json!({})).await;
    assert_eq!(
        (s, b["type"].as_str()),
        (400, Some("/msg/cda-match")),
        "the record is gone: {b}"
    );
    // A national body's code (970) is an organisation too.
    assert_eq!(read(validate(&stack, &signed).await).await.0, 201);
    let (s, b) = create_with(
        &stack,
        id,
        json!({"identificativoRep": "2.16.840.1.113883.2.9.2.970.4.5.1"}),
    )
    .await;
    assert_eq!(s, 202, "{b}");
}

/// The metadata update as `updateAbstract` reads it (row S17): Spring binds the body first
/// (unknown fields ignored, an unreadable body its own 400), then the path id, then — on
/// the validation path, without a workflowInstanceId — the tokens and the mandatory fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metadata_update_is_read_in_the_dispatchers_order() {
    let stack = TestStack::spawn(StackOptions {
        // The dispatcher's own answers: behind GovWay's content validation (off here, as a
        // GovWay configuration may have it) most of these requests would not reach it
        // (docs/gateway-fidelity.md, row S13).
        govway_validates_content: false,
        ..Default::default()
    })
    .await;
    let (auth, sig) =
        integration_tests::stack::tokens(JwtOperation::Metadata, None, json!({}), "producer");
    let good = json!({"tipologiaStruttura": "Ospedale", "tipoDocumentoLivAlto": "REF", "assettoOrganizzativo": "AD_PSC001", "tipoAttivitaClinica": "CON", "identificativoSottomissione": "2.16.840.1.113883.2.9.2.160.4.3.1"});
    let send = |id: &str, body: String, signature: Option<&str>| {
        let path = format!("/documents/{}/metadata-iti-57", id.replace('^', "%5E"));
        let mut r = stack
            .call(Some("producer"), Method::PUT, &path, None)
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(s) = signature {
            r = r.header("FSE-JWT-Signature", s);
        }
        async move { read(r.send().await.unwrap()).await }
    };
    let unknown = "2.16.840.1.113883.2.9.2.160.4.4^NEVER-PUBLISHED";
    // Not JSON, or a value outside an enumeration: Spring's ProblemDetail, before the path id.
    for body in [
        "{not json".to_string(),
        json!({"tipoDocumentoLivAlto": "XYZ"}).to_string(),
    ] {
        let (s, _, b) = send("no-caret", body, Some(&sig)).await;
        assert_eq!(s, 400, "{b}");
        assert_eq!(
            b,
            json!({"type": "about:blank", "title": "Bad Request", "status": 400,
                   "detail": "Failed to read request",
                   "instance": "/v1/documents/no-caret/metadata-iti-57"})
        );
    }
    // A body declared as another type than JSON: Spring's 415, before anything else.
    let path = "/documents/no-caret/metadata-iti-57";
    let r = stack
        .call(Some("producer"), Method::PUT, path, Some((&auth, &sig)))
        .header("Content-Type", "text/plain")
        .body(good.to_string())
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    assert_eq!(
        (s, b["title"].as_str()),
        (415, Some("Unsupported Media Type")),
        "{b}"
    );
    // The path id next: a plain validation error, no workflowInstanceId.
    let (s, _, b) = send("no-caret", good.to_string(), Some(&sig)).await;
    assert_eq!(
        (s, b["instance"].as_str()),
        (400, Some("/invalid-id")),
        "{b}"
    );
    assert!(b.get("workflowInstanceId").is_none(), "{b}");
    // No signature token: the validation path's 403, still no workflowInstanceId.
    let (s, _, b) = send(unknown, good.to_string(), None).await;
    assert_eq!(
        (s, b["type"].as_str()),
        (403, Some("/msg/missing-token")),
        "{b}"
    );
    assert!(b.get("workflowInstanceId").is_none(), "{b}");
    // The mandatory field and the atti clinici.
    let mut without = good.clone();
    without
        .as_object_mut()
        .unwrap()
        .remove("tipoDocumentoLivAlto");
    let (s, _, b) = send(unknown, without.to_string(), Some(&sig)).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(
        b["detail"],
        "Il campo tipo documento liv alto deve essere valorizzato."
    );
    // Its event: UPDATE, an empty id, the document and the token's fields.
    let (status_auth, _) = integration_tests::stack::tokens(
        JwtOperation::Validation,
        None,
        json!({"sub": "S1#160#80017210727FSEMW"}),
        "producer",
    );
    let search = format!("/status/search/{}", b["traceID"].as_str().unwrap());
    let r = stack
        .call(Some("producer"), Method::GET, &search, None)
        .header("Authorization", &status_auth)
        .send()
        .await
        .unwrap();
    let (_, _, events) = read(r).await;
    let e = &events["transactionData"][0];
    assert_eq!(
        (e["eventType"].as_str(), e["workflowInstanceId"].as_str()),
        (Some("UPDATE"), Some("")),
        "{events}"
    );
    assert_eq!(e["identificativoDocumento"], unknown, "{events}");
    assert!(e.get("subject").is_some(), "{events}");
    let mut atti = good.clone();
    atti["attiCliniciRegoleAccesso"] = json!(["ZZ9"]);
    let (s, _, b) = send(unknown, atti.to_string(), Some(&sig)).await;
    assert_eq!(
        (s, b["detail"].as_str()),
        (400, Some("Il campo atti clinici ZZ9 non è consentito")),
        "{b}"
    );
    // An unknown field is ignored: the body passes and INI does not know the document.
    let mut extra = good.clone();
    extra["campoSconosciuto"] = json!(1);
    let (s, _, b) = send(unknown, extra.to_string(), Some(&sig)).await;
    assert_eq!(
        (s, b["type"].as_str()),
        (404, Some("/msg/record-not-found")),
        "{b}"
    );
}
