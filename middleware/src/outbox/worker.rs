//! The recovery worker: delivers queued publications when the gateway is back.
//!
//! Every replica may run one. A delivery is claimed with a lease (`FOR UPDATE SKIP
//! LOCKED`), so two replicas never send the same row at once and a replica that dies
//! mid-delivery leaves a row another one takes over when the lease lapses. Rows of one
//! document go one after the other, in arrival order.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use serde_json::Value;
use tokio::sync::watch;

use crate::config::OutboxConfig;
use crate::cpu_pool::Work;
use crate::db::outbox::{self as store, Ending, Queued};
use crate::forward::Operation;
use crate::forward::gateway_client::{GatewayClient, describe};
use crate::startup::AppState;

/// Gateway errors that mean "the validation record is gone": the publication is sent
/// again as validate-and-create / validate-and-replace (contract §7.3).
const REVALIDATE: &[&str] = &["/msg/max-day-limit-exceed", "/msg/cda-match"];

/// Runs until `shutdown` turns true.
pub async fn run(state: Arc<AppState>, cfg: OutboxConfig, mut shutdown: watch::Receiver<bool>) {
    let worker = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    tracing::info!(%worker, "outbox worker started");
    loop {
        if *shutdown.borrow() {
            break;
        }
        let idle = match round(&state, &cfg, &worker).await {
            Ok(delivered_any) => !delivered_any,
            Err(e) => {
                tracing::warn!(error = %e, "outbox round failed");
                true
            }
        };
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(cfg.poll_ms)) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

/// One claim-and-deliver round; true when something was claimed.
async fn round(state: &AppState, cfg: &OutboxConfig, worker: &str) -> Result<bool, String> {
    let batch = store::claim(&state.pool, worker, 16, cfg.lease_secs as f64)
        .await
        .map_err(|e| e.to_string())?;
    if batch.is_empty() {
        return Ok(false);
    }
    let mut unreachable: Option<String> = None;
    for q in batch {
        let delay = backoff(cfg, q.attempts);
        if let Some(why) = &unreachable {
            // The gateway just failed for an earlier row: do not hammer it.
            store::reschedule(&state.pool, q.id, worker, delay, why, None)
                .await
                .map_err(|e| e.to_string())?;
            continue;
        }
        match deliver(state, cfg, worker, q.clone()).await {
            Ok(()) => {}
            Err(Failure::Later(why)) => {
                let ev = store::event(
                    "RETRY",
                    "ASYNC_RETRY",
                    &format!("nuovo tentativo programmato: {why}"),
                );
                store::reschedule(&state.pool, q.id, worker, delay, &why, Some(ev))
                    .await
                    .map_err(|e| e.to_string())?;
                state
                    .metrics
                    .outbox_deliveries
                    .with_label_values(&["retry"])
                    .inc();
                unreachable = Some(why);
            }
            // The gateway may hold the request already: no immediate retry. The row
            // stays leased and is tried again when the lease lapses.
            Err(Failure::Store(why)) => {
                tracing::error!(tx = %q.tx_id, %why, "outbox delivery not recorded");
                return Err(why);
            }
        }
    }
    Ok(unreachable.is_none())
}

fn backoff(cfg: &OutboxConfig, attempts: i32) -> u64 {
    let exp = attempts.clamp(1, 20) as u32 - 1;
    cfg.backoff_base_ms
        .saturating_mul(1u64 << exp)
        .min(cfg.backoff_max_ms)
}

/// Why a delivery did not end.
#[derive(Debug)]
enum Failure {
    /// Gateway unreachable or unavailable: try again later.
    Later(String),
    /// The database failed around the delivery.
    Store(String),
}

/// The stored request headers sent again with a queued publication (its body is whole,
/// so its length is the body's own).
const QUEUED_HEADERS: [&str; 3] = ["content-type", "accept", "x-callback-url"];

/// Sends one row.
async fn deliver(
    state: &AppState,
    cfg: &OutboxConfig,
    worker: &str,
    mut q: Queued,
) -> Result<(), Failure> {
    if !q.indexed {
        index_late(state, &q).await;
    }
    loop {
        let (status, body) = attempt(state, &q).await?;
        let answer = GatewayAnswer::read(status, &body);
        if status.is_success() {
            return delivered(state, &q, worker, &answer).await;
        }
        if REVALIDATE.contains(&answer.kind.as_str())
            && let Some((op, path)) = revalidating(&q.operation, &q.path)
        {
            let ev = store::event(
                "RETRY",
                "ASYNC_RETRY",
                &format!("{}: inviata di nuovo come {op}", answer.kind),
            );
            let (headers, body) = revalidation_request(&q, op);
            let converted = store::Converted {
                operation: op,
                path: &path,
                headers: &headers,
                body: &body,
            };
            store::convert(&state.pool, q.id, &converted, ev)
                .await
                .map_err(|e| Failure::Store(e.to_string()))?;
            q.operation = op.to_string();
            q.path = path;
            q.headers = headers;
            q.body = body;
            state
                .metrics
                .outbox_deliveries
                .with_label_values(&["revalidated"])
                .inc();
            continue;
        }
        if matches!(status.as_u16(), 502..=504) && q.attempts < cfg.max_attempts {
            return Err(Failure::Later(format!("gateway HTTP {}", status.as_u16())));
        }
        return refused(state, &q, worker, &answer).await;
    }
}

/// One call to the gateway with freshly issued tokens: its status and body.
async fn attempt(state: &AppState, q: &Queued) -> Result<(http::StatusCode, Vec<u8>), Failure> {
    let headers = stored_headers(&q.headers);
    let policy = state.tokens.clone();
    let reissued = headers.clone();
    let tokens = state
        .cpu
        .run(Work::Signature, move || policy.reissue(&reissued))
        .await
        .and_then(|t| t)
        .map_err(|e| Failure::Later(format!("token re-issue: {e}")))?;
    let method =
        Method::from_bytes(q.method.as_bytes()).map_err(|e| Failure::Store(e.to_string()))?;
    let sent = state
        .gateway
        .request(method, &q.path, &headers, &QUEUED_HEADERS, &tokens)
        .body(q.body.clone())
        .send()
        .await;
    let answer = match sent {
        Ok(r) => GatewayClient::read_answer(r).await,
        Err(e) => Err(e),
    };
    let (status, _, body) = answer.map_err(|e| Failure::Later(describe(&e)))?;
    Ok((status, body.to_vec()))
}

/// What the gateway answered a delivery.
struct GatewayAnswer {
    status: u16,
    text: String,
    json: Value,
    /// The problem `type` of a refusal (`/msg/…`), empty on success.
    kind: String,
}

impl GatewayAnswer {
    fn read(status: http::StatusCode, body: &[u8]) -> Self {
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let mut answer = Self {
            status: status.as_u16(),
            text: String::from_utf8_lossy(body).into_owned(),
            json,
            kind: String::new(),
        };
        answer.kind = answer.field("type").unwrap_or_default();
        answer
    }

    fn field(&self, k: &str) -> Option<String> {
        self.json.get(k).and_then(Value::as_str).map(str::to_string)
    }
}

/// The gateway accepted the publication: the row ends `delivered`, with the gateway's ids.
async fn delivered(
    state: &AppState,
    q: &Queued,
    worker: &str,
    answer: &GatewayAnswer,
) -> Result<(), Failure> {
    let ids = (
        answer.field("traceID"),
        answer.field("spanID"),
        answer.field("workflowInstanceId"),
    );
    // The gateway's ids, where the producer reads them (GET /status/search/{its traceID}).
    let mut ev = store::event(
        "FORWARDED",
        "SUCCESS",
        &format!("consegnato al gateway nazionale (HTTP {})", answer.status),
    );
    stamp(&mut ev, "traceId", &ids.0);
    stamp(&mut ev, "workflowInstanceId", &ids.2);
    end(state, q, worker, "delivered", answer, ids, ev).await?;
    Ok(())
}

/// The gateway refused the publication for good: the row ends `failed`.
async fn refused(
    state: &AppState,
    q: &Queued,
    worker: &str,
    answer: &GatewayAnswer,
) -> Result<(), Failure> {
    let kind = &answer.kind;
    let mut ev = store::event(
        "FORWARDED",
        "BLOCKING_ERROR",
        &format!(
            "rifiutato dal gateway nazionale (HTTP {} {kind})",
            answer.status
        ),
    );
    let ids = (answer.field("traceID"), answer.field("spanID"), None);
    stamp(&mut ev, "traceId", &ids.0);
    end(state, q, worker, "failed", answer, ids, ev).await?;
    tracing::warn!(tx = %q.tx_id, status = answer.status, %kind, "queued publication refused by the gateway");
    Ok(())
}

/// Puts one of the gateway's ids on an event, when the gateway gave it.
fn stamp(event: &mut Value, field: &str, id: &Option<String>) {
    if let Some(id) = id {
        event[field] = Value::from(id.as_str());
    }
}

/// Records how a delivery ended (`delivered` or `failed`) with the gateway's answer, and
/// counts it.
async fn end(
    state: &AppState,
    q: &Queued,
    worker: &str,
    outcome: &'static str,
    answer: &GatewayAnswer,
    trace: (Option<String>, Option<String>, Option<String>),
    event: Value,
) -> Result<(), Failure> {
    let ending = Ending {
        state: outcome,
        status: Some(i32::from(answer.status)),
        body: &answer.text,
        trace,
        event,
    };
    let done = store::finish(&state.pool, q, worker, &ending)
        .await
        .map_err(|e| Failure::Store(e.to_string()))?;
    if !done {
        tracing::warn!(tx = %q.tx_id, "outbox lease lost before the delivery was recorded");
    }
    state
        .metrics
        .outbox_deliveries
        .with_label_values(&[outcome])
        .inc();
    Ok(())
}

/// The provisional indexing a crash prevented at queuing time.
async fn index_late(state: &AppState, q: &Queued) {
    let op = Operation::from_name(&q.operation).unwrap_or(Operation::Create);
    let headers = stored_headers(&q.headers);
    let claims = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.get(7..))
        .and_then(|t| hsm::jwt::Jwt::parse(t).ok())
        .map(|j| j.claims);
    let body = bytes::Bytes::from(q.body.clone());
    let parsed = super::parse(&state.cpu, op, q.path_id.as_deref(), &headers, &body).await;
    super::index_queued(state, q.id, op, &parsed, claims.as_ref()).await;
}

/// create → validate-and-create; replace → validate-and-replace; only on the contract's own
/// paths (a configured path of another shape has no known validate-and- form).
fn revalidating(operation: &str, path: &str) -> Option<(&'static str, String)> {
    use gateway_contract::operation::id_segment;
    let route = path.split('?').next().unwrap_or_default();
    match operation {
        "create" if route == "/documents" => Some((
            "validate_and_create",
            replace_tail(path, "/documents", "/documents/validate-and-create"),
        )),
        "replace" => {
            id_segment("/documents/{id}", path)?;
            let id = path.strip_prefix("/documents/")?;
            Some((
                "validate_and_replace",
                format!("/documents/validate-and-replace/{id}"),
            ))
        }
        _ => None,
    }
}

/// What a validate-and-* takes of a queued create or replace: the same file and fields,
/// without the old validation's `workflowInstanceId` (the gateway makes a new validation
/// record and would refuse the old id with `/msg/cda-match`) and, for a replace, without
/// `priorita` (gone from contract 2.6.3). A body that cannot be read is sent as it is.
fn revalidation_request(q: &Queued, op: &str) -> (Value, Vec<u8>) {
    let content_type = q
        .headers
        .get("content-type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let body = bytes::Bytes::from(q.body.clone());
    let Ok(form) = gateway_contract::form::read_form(content_type, &body) else {
        return (q.headers.clone(), q.body.clone());
    };
    let (Some(text), Some(file)) = (form.request_body, form.file) else {
        return (q.headers.clone(), q.body.clone());
    };
    let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(&text) else {
        return (q.headers.clone(), q.body.clone());
    };
    fields.remove("workflowInstanceId");
    if op == "validate_and_replace" {
        fields.remove("priorita");
    }
    let (content_type, body) =
        gateway_contract::form::write_form(&Value::Object(fields).to_string(), &file);
    let mut headers = q.headers.clone();
    headers["content-type"] = Value::String(content_type);
    (headers, body.to_vec())
}

fn replace_tail(path: &str, from: &str, to: &str) -> String {
    match path.split_once('?') {
        Some((p, q)) if p == from => format!("{to}?{q}"),
        _ if path == from => to.to_string(),
        _ => path.to_string(),
    }
}

fn stored_headers(v: &Value) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (k, v) in v.as_object().into_iter().flatten() {
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(k.as_bytes()),
            v.as_str().map(HeaderValue::from_str),
        ) {
            out.insert(name, value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publications_become_validate_and_publish() {
        assert_eq!(
            revalidating("create", "/documents"),
            Some((
                "validate_and_create",
                "/documents/validate-and-create".into()
            ))
        );
        assert_eq!(
            revalidating("replace", "/documents/2.16.840.1.113883.2.9.2.160.4.4%5EX"),
            Some((
                "validate_and_replace",
                "/documents/validate-and-replace/2.16.840.1.113883.2.9.2.160.4.4%5EX".into()
            ))
        );
        assert_eq!(revalidating("delete", "/documents/x"), None);
        let cfg = OutboxConfig::default();
        assert_eq!(backoff(&cfg, 1), 1_000);
        assert_eq!(backoff(&cfg, 3), 4_000);
        assert_eq!(backoff(&cfg, 30), 60_000);
    }
}
