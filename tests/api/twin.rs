//! The same calls to the simulator directly (as the region: its TLS certificate, tokens
//! signed with its signature certificate) and through the middleware (as a producer): the
//! national part of each answer must be the same, status and body, but for the ids each
//! call gets anew (docs/gateway-fidelity.md: the rows each case names).

use dev_tools::dev_jwt::JwtOperation;
use integration_tests::stack::{StackOptions, TestStack, form, tokens};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{LAB_OK, SIGNED_LAB, VALIDATION_BODY, pdf, publication_body};

/// One call, as both callers make it.
struct Case {
    row: &'static str,
    method: Method,
    path: String,
    op: JwtOperation,
    claims: Value,
    body: Payload,
}

enum Payload {
    Form(String, Vec<u8>),
    Json(String),
    Raw(&'static str, &'static str),
    /// A multipart body written by hand: its Content-Type and bytes.
    Multipart(String, Vec<u8>),
    None,
}

/// The answer without what each call gets anew (trace ids, GovWay's id, the random part of
/// a workflowInstanceId) and without the middleware's notes.
fn national(status: u16, mut body: Value) -> (u16, Value) {
    if let Some(o) = body.as_object_mut() {
        for k in ["traceID", "spanID", "govway_id"] {
            // Keeping the others' order.
            o.shift_remove(k);
        }
        if let Some(Value::String(w)) = o.get_mut("workflowInstanceId")
            && let Some((stem, _)) = w.rsplit_once('.')
        {
            *w = stem.to_string();
        }
        if let Some(Value::String(w)) = o.get_mut("warning") {
            *w = w
                .split("--middlewarewarning--")
                .next()
                .unwrap_or_default()
                .to_string();
        }
    }
    (status, body)
}

async fn call(stack: &TestStack, case: &Case, direct: bool) -> (u16, Value) {
    let pdf_for_hash = match &case.body {
        Payload::Form(_, pdf) => Some(pdf.as_slice()),
        _ => None,
    };
    let (client, url, signer) = if direct {
        (
            stack.client(Some("region-auth")),
            format!("{}{}", stack.sim_url, case.path),
            "region-sig",
        )
    } else {
        (
            stack.client(Some("producer")),
            format!("{}{}", stack.mw_url, case.path),
            "producer",
        )
    };
    // The region's own tokens name the gateway as their audience, as the middleware's do.
    let mut claims = case.claims.clone();
    if direct {
        claims["aud"] = json!(stack.sim_url);
    }
    let (auth, sig) = tokens(case.op, pdf_for_hash, claims, signer);
    let mut r = client
        .request(case.method.clone(), url)
        .header("Authorization", auth)
        .header("FSE-JWT-Signature", sig);
    r = match &case.body {
        Payload::Form(request, pdf) => r.multipart(form(request, pdf.clone())),
        Payload::Json(text) => r
            .header("Content-Type", "application/json")
            .body(text.clone()),
        Payload::Raw(ct, text) => r.header("Content-Type", *ct).body(*text),
        Payload::Multipart(ct, body) => r.header("Content-Type", ct).body(body.clone()),
        Payload::None => r,
    };
    let (s, _, b) = crate::read(r.send().await.unwrap()).await;
    national(s, b)
}

fn cases() -> Vec<Case> {
    let form_of = |request: &str, pdf_path: &str| {
        let file = match pdf_path {
            SIGNED_LAB => crate::signed_lab(),
            other => pdf(other),
        };
        Payload::Form(request.to_string(), file)
    };
    let verifica = r#"{"healthDataFormat":"CDA","mode":"ATTACHMENT","activity":"VERIFICA"}"#;
    let metadata = json!({"tipologiaStruttura": "Ospedale", "tipoDocumentoLivAlto": "REF", "assettoOrganizzativo": "AD_PSC001", "tipoAttivitaClinica": "CON", "identificativoSottomissione": "2.16.840.1.113883.2.9.2.160.4.3.1"});
    let status = json!({"sub": "S1#160#80017210727FSEMW"});
    vec![
        Case {
            row: "S1, S2: a VERIFICA",
            method: Method::POST,
            path: "/documents/validation".into(),
            op: JwtOperation::Validation,
            claims: json!({}),
            body: form_of(verifica, LAB_OK),
        },
        Case {
            row: "S11: no activity",
            method: Method::POST,
            path: "/documents/validation".into(),
            op: JwtOperation::Validation,
            claims: json!({}),
            body: form_of(r#"{"mode":"ATTACHMENT"}"#, LAB_OK),
        },
        Case {
            row: "S7: action_id",
            method: Method::POST,
            path: "/documents/validation".into(),
            op: JwtOperation::Validation,
            claims: json!({"action_id": "WRITE"}),
            body: form_of(VALIDATION_BODY, LAB_OK),
        },
        Case {
            row: "S14: not validated",
            method: Method::POST,
            path: "/documents".into(),
            op: JwtOperation::Create,
            claims: json!({}),
            body: form_of(
                &publication_body("2.16.840.1.113883.2.9.2.160.4.4^TWIN-1"),
                SIGNED_LAB,
            ),
        },
        Case {
            row: "S16: assettoOrganizzativo",
            method: Method::POST,
            path: "/documents".into(),
            op: JwtOperation::Create,
            claims: json!({}),
            body: form_of(
                &publication_body("2.16.840.1.113883.2.9.2.160.4.4^TWIN-1")
                    .replace("AD_PSC001", "AD_PSC016"),
                SIGNED_LAB,
            ),
        },
        Case {
            row: "S21: a signature that does not verify",
            method: Method::POST,
            path: "/documents".into(),
            op: JwtOperation::Create,
            claims: json!({}),
            body: Payload::Form(
                publication_body("2.16.840.1.113883.2.9.2.160.4.4^TWIN-1"),
                pdf(SIGNED_LAB),
            ),
        },
        Case {
            row: "S21: not signed",
            method: Method::POST,
            path: "/documents".into(),
            op: JwtOperation::Create,
            claims: json!({}),
            body: form_of(
                &publication_body("2.16.840.1.113883.2.9.2.160.4.4^TWIN-1"),
                LAB_OK,
            ),
        },
        Case {
            row: "S21: a PDF that cannot be loaded",
            method: Method::POST,
            path: "/documents".into(),
            op: JwtOperation::Create,
            claims: json!({}),
            body: Payload::Form(
                publication_body("2.16.840.1.113883.2.9.2.160.4.4^TWIN-1"),
                b"%PDF-1.7\nnot a document\n%%EOF\n".to_vec(),
            ),
        },
        Case {
            row: "S18: CRASH_TIMEOUT",
            method: Method::POST,
            path: "/documents".into(),
            op: JwtOperation::Create,
            claims: json!({}),
            body: form_of(&publication_body("CRASH_TIMEOUT^TWIN"), SIGNED_LAB),
        },
        Case {
            row: "S8: replace of an unknown document",
            method: Method::PUT,
            path: "/documents/2.16.840.1.113883.2.9.2.160.4.4%5ETWIN-NONE".into(),
            op: JwtOperation::Replace,
            claims: json!({}),
            body: form_of(
                &publication_body("2.16.840.1.113883.2.9.2.160.4.4^TWIN-2"),
                SIGNED_LAB,
            ),
        },
        Case {
            row: "S8: delete of an unknown document",
            method: Method::DELETE,
            path: "/documents/2.16.840.1.113883.2.9.2.160.4.4%5ETWIN-NONE".into(),
            op: JwtOperation::Delete,
            claims: json!({}),
            body: Payload::None,
        },
        Case {
            row: "S17: metadata body",
            method: Method::PUT,
            path: "/documents/x%5Ey/metadata-iti-57".into(),
            op: JwtOperation::Metadata,
            claims: json!({}),
            body: Payload::Raw("application/json", "{not json"),
        },
        Case {
            row: "S17: metadata path id",
            method: Method::PUT,
            path: "/documents/no-caret/metadata-iti-57".into(),
            op: JwtOperation::Metadata,
            claims: json!({}),
            body: Payload::Json(metadata.to_string()),
        },
        Case {
            row: "S10: 415",
            method: Method::POST,
            path: "/documents/validation".into(),
            op: JwtOperation::Validation,
            claims: json!({}),
            body: Payload::Raw("application/json", "{}"),
        },
        Case {
            row: "S4: status of nothing",
            method: Method::GET,
            path: "/status/search/0123456789abcdef".into(),
            op: JwtOperation::Validation,
            claims: status.clone(),
            body: Payload::None,
        },
        Case {
            row: "S5: status without a region",
            method: Method::GET,
            path: "/status/UNKNOWN_WORKFLOW_ID".into(),
            op: JwtOperation::Validation,
            claims: status,
            body: Payload::None,
        },
        Case {
            row: "S23: FHIR patient",
            method: Method::POST,
            path: "/documents/fhir-validation".into(),
            op: JwtOperation::Validation,
            claims: json!({"person_id": "PRVPVL00A01H501K^^^&2.16.840.1.113883.2.9.4.3.2&ISO"}),
            body: Payload::Form(
                r#"{"activity":"VALIDATION","mode":"ATTACHMENT"}"#.into(),
                crate::fhir::pdf_with(&crate::fhir::bundle("twin")),
            ),
        },
    ]
}

/// Each case's national answer directly and through the middleware, where they differ.
async fn differences(stack: &TestStack, cases: &[Case]) -> Vec<String> {
    let mut differences = Vec::new();
    for case in cases {
        let direct = call(stack, case, true).await;
        let through = call(stack, case, false).await;
        // As text: the fields' order counts too.
        if (direct.0, direct.1.to_string()) != (through.0, through.1.to_string()) {
            differences.push(format!(
                "{}:\n  direct  {direct:?}\n  through {through:?}",
                case.row
            ));
        }
    }
    differences
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_national_part_is_the_same_directly_and_through_the_middleware() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let cases = cases();
    let differences = differences(&stack, &cases).await;
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    // The signature check's three answers (row S21), as the dispatcher gives them.
    let expected = [
        (
            400,
            "/msg/sign-error",
            "La firma del pdf non risulta valida",
        ),
        (400, "/msg/sign-error", "Il pdf non risulta firmato"),
        (
            500,
            "/msg/generic-error",
            "Error while searching signature for file with name",
        ),
    ];
    let signature_rows = cases.iter().filter(|c| c.row.starts_with("S21"));
    for (case, (status, kind, detail)) in signature_rows.zip(expected) {
        let (s, b) = call(&stack, case, true).await;
        assert_eq!(
            (s, b["type"].as_str(), b["detail"].as_str()),
            (status, Some(kind), Some(detail)),
            "{}: {b}",
            case.row
        );
    }
}

/// The validator's syntax stage (row "XSD messages"): Xerces's words, the same directly
/// and through the middleware.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xsd_messages_are_the_validators_directly_and_through_the_middleware() {
    let stack = TestStack::spawn(StackOptions {
        full_validation: true,
        ..Default::default()
    })
    .await;
    let lab = std::fs::read_to_string(
        integration_tests::shared_dir().join("testdata/cda/examples/LAB.xml"),
    )
    .unwrap();
    let conf = r#"<confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25" codeSystemName="HL7 Confidentiality" displayName="Normal"/>"#;
    assert!(lab.contains(conf));
    let mutations = [
        (
            "languageCode before confidentialityCode",
            lab.replacen(conf, "", 1)
                .replacen("<setId", &format!("{conf}<setId"), 1),
            "ERROR: -1,-1 cvc-complex-type.2.4.a: Invalid content was found starting with element 'languageCode'. One of '{\"urn:hl7-org:v3\":confidentialityCode}' is expected.",
        ),
        (
            "not well-formed",
            lab.replacen("</ClinicalDocument>", "<unclosed></ClinicalDocument>", 1),
            "Error while executing validation on xsd schema",
        ),
        (
            "a document type declaration",
            lab.replacen(
                "<ClinicalDocument",
                "<!DOCTYPE ClinicalDocument>\n<ClinicalDocument",
                1,
            ),
            "Error while executing validation on xsd schema",
        ),
    ];
    let mut cases = Vec::new();
    for (row, cda, detail) in &mutations {
        let case = Case {
            row,
            method: Method::POST,
            path: "/documents/validation".into(),
            op: JwtOperation::Validation,
            claims: json!({}),
            body: Payload::Form(
                VALIDATION_BODY.to_string(),
                crate::pdf_attaching("cda.xml", cda.as_bytes()),
            ),
        };
        let (status, body) = call(&stack, &case, true).await;
        assert_eq!(
            (status, body["type"].as_str(), body["detail"].as_str()),
            (400, Some("/msg/syntax"), Some(*detail)),
            "{row}: {body}"
        );
        cases.push(case);
    }
    let differences = differences(&stack, &cases).await;
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// A validation's multipart body as some clients write it: the `requestBody` part with its
/// own Content-Type (`None`: without one), the request's Content-Type as given.
fn hand_written(content_type: &str, part_type: Option<&str>, request: &str) -> Payload {
    let boundary = content_type.rsplit("boundary=").next().unwrap_or_default();
    let part_type = part_type
        .map(|t| format!("Content-Type: {t}\r\n"))
        .unwrap_or_default();
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"requestBody\"\r\n{part_type}\r\n{request}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"doc.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    body.extend(pdf(LAB_OK));
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    Payload::Multipart(content_type.to_string(), body)
}

/// GovWay's validation of requests against the published OpenAPI (row S13): the live
/// answers' texts, the same directly and through the middleware.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn govway_refuses_requests_outside_the_published_openapi() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let multipart = "multipart/form-data; boundary=TWINxx";
    let prefix = "Request content not conform to API specification: ";
    let errors = "Validation error(s) :\n";
    let validation = |row, body| Case {
        row,
        method: Method::POST,
        path: "/documents/validation".into(),
        op: JwtOperation::Validation,
        claims: json!({}),
        body,
    };
    let cases = [
        (
            validation(
                "#312: the requestBody part as text",
                hand_written(multipart, Some("text/plain"), VALIDATION_BODY),
            ),
            format!(
                "{prefix}{errors}body.requestBody: Type expected 'object', found 'string'. (code: 1027)\nFrom: body.requestBody.<#/components/schemas/ValidationCDAReqDTO>.<type>\nbody.requestBody: Field 'activity' is required. (code: 1026)\nFrom: body.requestBody.<#/components/schemas/ValidationCDAReqDTO>.<required>\n"
            ),
        ),
        (
            validation(
                "#2487: an activity outside the enum",
                hand_written(
                    multipart,
                    None,
                    r#"{"healthDataFormat":"CDA","mode":"ATTACHMENT","activity":"VALIDAZIONE"}"#,
                ),
            ),
            format!(
                "{prefix}{errors}body.requestBody.activity: Value 'VALIDAZIONE' is not defined in the schema. (code: 1006)\nFrom: body.requestBody.<#/components/schemas/ValidationCDAReqDTO>.activity.<enum>\n"
            ),
        ),
        (
            validation(
                "additionalProperties: false",
                hand_written(
                    multipart,
                    Some("application/json"),
                    r#"{"activity":"VALIDATION","priorita":true}"#,
                ),
            ),
            format!(
                "{prefix}{errors}body.requestBody: Additional property 'priorita' is not allowed. (code: 1000)\nFrom: body.requestBody.<#/components/schemas/ValidationCDAReqDTO>.<additionalProperties>\n"
            ),
        ),
        (
            validation(
                "#665: a charset before the boundary",
                hand_written(
                    "multipart/form-data; charset=UTF-8; boundary=TWINxx",
                    None,
                    VALIDATION_BODY,
                ),
            ),
            format!("{prefix}UTF-8; boundary=TWINxx"),
        ),
        (
            Case {
                row: "#613: a practice setting the OpenAPI no longer lists",
                method: Method::POST,
                path: "/documents".into(),
                op: JwtOperation::Create,
                claims: json!({}),
                body: Payload::Form(
                    publication_body("2.16.840.1.113883.2.9.2.160.4.4^TWIN-OAS")
                        .replace("AD_PSC001", "AD_PSC106"),
                    crate::signed_lab(),
                ),
            },
            format!(
                "{prefix}{errors}body.requestBody.assettoOrganizzativo: Value 'AD_PSC106' is not defined in the schema. (code: 1006)\nFrom: body.requestBody.<#/components/schemas/PublicationCreationReqDTO>.assettoOrganizzativo.<enum>\n"
            ),
        ),
        (
            Case {
                row: "a path id over the OpenAPI's 256 characters",
                method: Method::DELETE,
                path: format!("/documents/{}", "9".repeat(300)),
                op: JwtOperation::Delete,
                claims: json!({}),
                body: Payload::None,
            },
            format!(
                "{prefix}{errors}idDoc: Max length is '256', found '300'. (code: 1012)\nFrom: idDoc.<maxLength>\n"
            ),
        ),
    ];
    // A JSON part with parameters is read as JSON: the validation goes through.
    let with_charset = validation(
        "a JSON part with a charset",
        hand_written(
            multipart,
            Some("application/json; charset=UTF-8"),
            VALIDATION_BODY,
        ),
    );
    assert_eq!(call(&stack, &with_charset, true).await.0, 201);
    for (case, detail) in &cases {
        let (status, body) = call(&stack, case, true).await;
        assert_eq!(
            (status, body["title"].as_str(), body["detail"].as_str()),
            (400, Some("InvalidRequestContent"), Some(detail.as_str())),
            "{}: {body}",
            case.row
        );
    }
    let cases: Vec<Case> = cases.into_iter().map(|(c, _)| c).collect();
    let differences = differences(&stack, &cases).await;
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
