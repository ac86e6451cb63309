//! Transactions: the live list with filters, one transaction's whole trail, and its
//! support bundle (request metadata, answer, transaction id, CDA) in one download.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::auth::Session;
use super::html::{esc, filled, input, page, select, table, when};
use super::{html, problem};
use crate::audit::CfHasher;
use crate::db::Db;
use crate::db::producers::Producer;
use crate::db::transactions::{TransactionQuery, TransactionRecord, search};
use deadpool_postgres::Pool;

/// The list's filters, as the form sends them (empty fields mean "any").
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    from: Option<String>,
    to: Option<String>,
    producer: Option<String>,
    asl: Option<String>,
    operation: Option<String>,
    outcome: Option<String>,
    id: Option<String>,
    cf: Option<String>,
    live: Option<String>,
}

/// `YYYY-MM-DDTHH:MM[:SS]` (an HTML datetime-local, read as UTC).
fn instant(v: &Option<String>) -> Option<OffsetDateTime> {
    let v = filled(v)?;
    let long = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let short = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    PrimitiveDateTime::parse(v, long)
        .or_else(|_| PrimitiveDateTime::parse(v, short))
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

async fn producers(pool: &Pool) -> HashMap<i64, Producer> {
    crate::db::producers::list(pool)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.id, p))
        .collect()
}

/// The filters of the list, filled with the request's values.
fn filter_form(
    f: &Filters,
    producers: &HashMap<i64, Producer>,
    (operations, outcomes): (Vec<String>, Vec<String>),
) -> String {
    let mut cns: Vec<String> = producers.values().map(|p| p.cert_cn.clone()).collect();
    cns.sort();
    let mut asls: Vec<String> = producers.values().map(|p| p.organization.clone()).collect();
    asls.sort();
    asls.dedup();
    let live = f.live.is_some();
    let mut body = String::from("<form method=\"get\" class=\"filters\" id=\"filters\">");
    body.push_str(&input(
        "from",
        "Dal (UTC)",
        "datetime-local",
        f.from.as_deref(),
    ));
    body.push_str(&input("to", "Al (UTC)", "datetime-local", f.to.as_deref()));
    body.push_str(&select("producer", "Produttore", &cns, filled(&f.producer)));
    body.push_str(&select("asl", "ASL", &asls, filled(&f.asl)));
    body.push_str(&select(
        "operation",
        "Operazione",
        &operations,
        filled(&f.operation),
    ));
    body.push_str(&select("outcome", "Esito", &outcomes, filled(&f.outcome)));
    body.push_str(&input(
        "id",
        "Transazione, traceID o workflowInstanceId",
        "search",
        f.id.as_deref(),
    ));
    body.push_str(&input(
        "cf",
        "Codice fiscale (cercato tramite hash)",
        "search",
        f.cf.as_deref(),
    ));
    let _ = write!(
        body,
        "<label>Aggiornamento automatico<input type=\"checkbox\" name=\"live\" value=\"1\"{}></label><button type=\"submit\">Cerca</button><a class=\"button\" href=\"/console/transactions\">Azzera</a></form>",
        if live { " checked" } else { "" }
    );
    body
}

/// One transaction as a row of the list.
fn list_row(r: &TransactionRecord, producers: &HashMap<i64, Producer>) -> Vec<String> {
    let asl = r
        .producer_id
        .and_then(|id| producers.get(&id))
        .map(|p| p.organization.clone())
        .unwrap_or_default();
    vec![
        esc(&when(r.received_at)),
        format!(
            "<a href=\"/console/transactions/{}\">{}</a>",
            r.tx_id, r.tx_id
        ),
        esc(r.client_cn.as_deref().unwrap_or("-")),
        esc(&asl),
        esc(&r.operation),
        format!(
            "<span class=\"{}\">{}</span>",
            status_class(r.http_status),
            r.http_status
        ),
        esc(r.outcome.as_str()),
        esc(r.problem_type.as_deref().unwrap_or("")),
        esc(r.gtw_trace_id.as_deref().unwrap_or("")),
        esc(r.workflow_instance_id.as_deref().unwrap_or("")),
    ]
}

fn status_class(status: i32) -> &'static str {
    match status {
        200..=299 => "ok",
        400..=499 => "warn",
        _ => "ko",
    }
}

/// `GET /console/transactions`.
pub async fn list(
    State(Db(pool)): State<Db>,
    State(hasher): State<CfHasher>,
    session: Session,
    Query(f): Query<Filters>,
) -> Response {
    let query = TransactionQuery {
        id: filled(&f.id).map(str::to_string),
        patient_cf_hmac: filled(&f.cf).map(|cf: &str| hasher.candidates(cf)),
        client_cn: filled(&f.producer).map(str::to_string),
        asl: filled(&f.asl).map(str::to_string),
        operation: filled(&f.operation).map(str::to_string),
        outcome: filled(&f.outcome).map(str::to_string),
        from: instant(&f.from),
        to: instant(&f.to),
        limit: Some(200),
        ..Default::default()
    };
    let rows = match search(&pool, &query).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "console: transaction search");
            return problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(&session),
                "ricerca non riuscita",
            );
        }
    };
    let producers = producers(&pool).await;
    let choices = crate::db::console::choices(&pool).await.unwrap_or_default();
    let live = f.live.is_some();
    let mut body = filter_form(&f, &producers, choices);
    let rows: Vec<Vec<String>> = rows.iter().map(|r| list_row(r, &producers)).collect();
    let _ = write!(
        body,
        "<p>{} transazioni (le più recenti prima, al massimo 200)</p>",
        rows.len()
    );
    body.push_str(&table(
        &[
            "Ricevuta (UTC)",
            "Transazione",
            "Produttore",
            "ASL",
            "Operazione",
            "HTTP",
            "Esito",
            "Errore",
            "traceID",
            "workflowInstanceId",
        ],
        &rows,
    ));
    html(page(
        "Transazioni",
        Some(&session),
        &body,
        live.then_some(15),
    ))
}

async fn load(pool: &Pool, id: &str) -> Result<Option<TransactionRecord>, Response> {
    let Ok(uuid) = uuid::Uuid::parse_str(id) else {
        return Ok(None);
    };
    let q = TransactionQuery {
        id: Some(uuid.to_string()),
        limit: Some(1),
        ..Default::default()
    };
    search(pool, &q)
        .await
        .map(|mut rows| rows.pop())
        .map_err(|e| {
            tracing::error!(error = %e, "console: transaction");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "lettura non riuscita",
            )
        })
}

/// The transaction `id`, or the answer to give instead (not found, error).
async fn found(pool: &Pool, session: &Session, id: &str) -> Result<TransactionRecord, Response> {
    match load(pool, id).await? {
        Some(r) => Ok(r),
        None => Err(problem(
            StatusCode::NOT_FOUND,
            Some(session),
            "transazione non trovata",
        )),
    }
}

/// Other transactions of the same document or workflow (validation, publication, retries).
async fn related(pool: &Pool, r: &TransactionRecord) -> Vec<TransactionRecord> {
    let mut out: Vec<TransactionRecord> = Vec::new();
    let mut queries = Vec::new();
    if let Some(w) = &r.workflow_instance_id {
        queries.push(TransactionQuery {
            id: Some(w.clone()),
            limit: Some(50),
            ..Default::default()
        });
    }
    if let Some(d) = &r.document_id {
        queries.push(TransactionQuery {
            document_id: Some(d.clone()),
            limit: Some(50),
            ..Default::default()
        });
    }
    for q in queries {
        for row in search(pool, &q).await.unwrap_or_default() {
            if row.tx_id != r.tx_id && !out.iter().any(|o| o.tx_id == row.tx_id) {
                out.push(row);
            }
        }
    }
    out.sort_by_key(|r| r.received_at);
    out
}

/// `GET /console/transactions/{id}`.
pub async fn detail(
    State(Db(pool)): State<Db>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let r = match found(&pool, &session, &id).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let producers = producers(&pool).await;
    let mut body = if session.role.reads_bodies() {
        format!(
            "<p><a class=\"button\" id=\"bundle\" href=\"/console/transactions/{}/bundle\">Scarica il support bundle</a></p>",
            r.tx_id
        )
    } else {
        String::new()
    };
    body.push_str(&fields_list(&r, &producers));
    for (title, text) in [
        ("Richiesta (parte JSON)", &r.request_body),
        ("Risposta", &r.response_body),
    ] {
        let _ = write!(
            body,
            "<h2>{title}</h2><pre>{}</pre>",
            esc(&pretty(text.as_deref()))
        );
    }
    if let Ok(Some(events)) = crate::db::outbox_view::events_of(&pool, r.tx_id).await {
        body.push_str(&queue_events(&events));
    }
    body.push_str(&document_path(&related(&pool, &r).await));
    let cda = crate::db::console::document(&pool, r.tx_id)
        .await
        .ok()
        .flatten();
    let _ = write!(
        body,
        "<h2>CDA</h2><p>{}</p>",
        if cda.is_some() {
            "Conservato: incluso nel support bundle."
        } else {
            "Non conservato (richieste di validazione, o oltre il periodo di conservazione)."
        }
    );
    html(page(
        &format!("Transazione {}", r.tx_id),
        Some(&session),
        &body,
        None,
    ))
}

fn pretty(text: Option<&str>) -> String {
    match text {
        None => "(non registrata)".into(),
        Some(t) => serde_json::from_str::<Value>(t)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| t.to_string()),
    }
}

/// The row's fields (those with a value), with the producer's ASL and role.
fn fields_list(r: &TransactionRecord, producers: &HashMap<i64, Producer>) -> String {
    let mut out = String::from("<h2>Transazione</h2><dl>");
    if let Some(p) = r.producer_id.and_then(|id| producers.get(&id)) {
        let _ = write!(
            out,
            "<dt>ASL</dt><dd>{}</dd><dt>Ruolo</dt><dd>{}</dd>",
            esc(&p.organization),
            esc(&p.role)
        );
    }
    if let Ok(Value::Object(fields)) = serde_json::to_value(r) {
        for (k, v) in &fields {
            let text = match v {
                Value::Null => continue,
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&text));
        }
    }
    out.push_str("</dl>");
    out
}

/// The outbox's events of a queued publication.
fn queue_events(events: &Value) -> String {
    let rows: Vec<Vec<String>> = events
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            ["eventDate", "eventType", "eventStatus", "message"]
                .iter()
                .map(|k| esc(e[*k].as_str().unwrap_or_default()))
                .collect()
        })
        .collect();
    format!(
        "<h2>Consegna differita (coda)</h2>{}",
        table(&["Quando", "Evento", "Stato", "Messaggio"], &rows)
    )
}

/// The other transactions of the same document or workflow.
fn document_path(others: &[TransactionRecord]) -> String {
    let rows: Vec<Vec<String>> = others
        .iter()
        .map(|o| {
            vec![
                esc(&when(o.received_at)),
                format!(
                    "<a href=\"/console/transactions/{}\">{}</a>",
                    o.tx_id, o.tx_id
                ),
                esc(&o.operation),
                o.http_status.to_string(),
                esc(o.outcome.as_str()),
            ]
        })
        .collect();
    let headers = [
        "Ricevuta (UTC)",
        "Transazione",
        "Operazione",
        "HTTP",
        "Esito",
    ];
    format!("<h2>Percorso del documento</h2>{}", table(&headers, &rows))
}

/// `GET /console/transactions/{id}/bundle`: one JSON file for the support desk.
pub async fn bundle(
    State(Db(pool)): State<Db>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let r = match found(&pool, &session, &id).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if !session.role.reads_bodies() {
        return problem(
            StatusCode::FORBIDDEN,
            Some(&session),
            "il ruolo monitor non scarica i support bundle",
        );
    }
    let body_json = |t: &Option<String>| match t {
        None => Value::Null,
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.clone())),
    };
    let producer = match r.producer_id {
        Some(id) => producers(&pool).await.remove(&id),
        None => None,
    };
    let cda = crate::db::console::document(&pool, r.tx_id)
        .await
        .ok()
        .flatten();
    let events = crate::db::outbox_view::events_of(&pool, r.tx_id)
        .await
        .ok()
        .flatten();
    let related: Vec<Value> = related(&pool, &r)
        .await
        .iter()
        .map(|o| serde_json::to_value(o).unwrap_or(Value::Null))
        .collect();
    let bundle = json!({
        "bundle": "fsemw support bundle",
        "generatedAt": OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default(),
        "generatedBy": session.user,
        "transactionId": r.tx_id,
        "transaction": serde_json::to_value(&r).unwrap_or(Value::Null),
        "producer": producer.map(|p| json!({
            "certificateCn": p.cert_cn, "asl": p.organization, "role": p.role,
            "applicationId": p.application_id, "applicationVendor": p.application_vendor,
            "applicationVersion": p.application_version,
        })),
        "request": body_json(&r.request_body),
        "response": {"httpStatus": r.http_status, "body": body_json(&r.response_body)},
        "deferredDelivery": events,
        "relatedTransactions": related,
        "cda": cda,
    });
    if let Err(e) = crate::db::console::record(
        &pool,
        &session.user,
        "support-bundle",
        Some(&r.tx_id.to_string()),
    )
    .await
    {
        tracing::error!(error = %e, "console audit not written: bundle refused");
        return problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            Some(&session),
            "registro degli accessi non disponibile",
        );
    }
    (
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"support-{}.json\"", r.tx_id),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        serde_json::to_string_pretty(&bundle).unwrap_or_default(),
    )
        .into_response()
}
