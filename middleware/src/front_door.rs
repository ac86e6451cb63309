//! The one way in for what producers call on the producer listener — the gateway-identical
//! REST API, the regional XDS registry and repositories, the legacy SOAP services — as a
//! layer around all their routes:
//!
//! 1. opens the transaction: its id and its audit row ([`Transaction`]);
//! 2. names the caller: the client certificate the accept loop verified and the producer
//!    registry's verdict on it ([`Caller`]); a refusal is counted here, in
//!    `fsemw_producer_refusals_total{reason}`, but answered by the service in its own
//!    format (a problem document, a SOAP 1.1 or 1.2 fault);
//! 3. after the service: takes back the row the service completed and left in the
//!    response's extensions ([`hand_back`]), counts the request and its duration, writes the
//!    row before the answer leaves, and adds the transaction header.
//!
//! Services do only their own work: they never start a transaction, look a producer up or
//! write a row.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, StatusCode};

use crate::audit::TxContext;
use crate::db::outcome::Outcome;
use crate::db::producers::Producer;
use crate::db::transaction_writer::Stored;
use crate::db::transactions::TransactionRecord;
use crate::problem::MwError;
use crate::server::identity::ClientIdentity;
use crate::startup::AppState;

/// The transaction of one request, opened by the front door: its id and times, and the
/// audit row the service completes and hands back with [`hand_back`].
#[derive(Debug, Clone)]
pub struct Transaction {
    /// Id, arrival time and instant.
    pub tx: TxContext,
    /// The audit row: method, path, certificate case, client CN and producer already set.
    pub row: TransactionRecord,
}

/// Who is calling: what the TLS layer verified, and the producer registry's verdict.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The client certificate (verified leaf, or why not).
    pub identity: ClientIdentity,
    /// The registered, enabled producer; or why the caller is refused (no or untrusted
    /// certificate, CN outside the conventions, unregistered, disabled, registry unreachable).
    pub producer: Result<Producer, MwError>,
}

/// Leaves the completed audit row in the response, for the front door to write.
pub fn hand_back(row: TransactionRecord, mut resp: Response) -> Response {
    resp.extensions_mut().insert(row);
    resp
}

/// The front door (`axum::middleware::from_fn_with_state`).
pub async fn front_door(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let tx = TxContext::start();
    let identity = ClientIdentity::of(&req);
    let mut row = tx.record(
        "unknown",
        req.method().as_str(),
        req.uri().path(),
        state.certificate_case,
    );
    let producer = authenticate(&state, &identity, &mut row).await;
    if let Err(MwError::Unauthorized { reason, .. }) = &producer {
        state.metrics.refusals.with_label_values(&[reason]).inc();
    }
    let unreturned = row.clone();
    req.extensions_mut().insert(Transaction {
        tx: tx.clone(),
        row,
    });
    req.extensions_mut().insert(Caller { identity, producer });
    let mut resp = next.run(req).await;
    let row = resp
        .extensions_mut()
        .remove::<TransactionRecord>()
        .unwrap_or_else(|| {
            tracing::error!(tx = %tx.id, "a service answered without its audit row");
            TransactionRecord {
                outcome: Outcome::InternalError,
                ..unreturned
            }
        });
    let resp = close(&state, row, resp, &tx).await;
    with_transaction_header(resp, &state.tx_header, &tx)
}

/// Counts the request and writes its row before the answer leaves: a crash right after
/// an answer must not lose the transaction's trace.
async fn close(
    state: &AppState,
    mut row: TransactionRecord,
    resp: Response,
    tx: &TxContext,
) -> Response {
    let elapsed = tx.started.elapsed();
    row.http_status = i32::from(resp.status().as_u16());
    row.duration_ms = elapsed.as_secs_f64() * 1000.0;
    state.metrics.request(&row.operation, resp.status());
    state
        .metrics
        .request_latency
        .with_label_values(&[&row.operation])
        .observe(elapsed.as_secs_f64());
    match state.transaction_writer.write(row).await {
        Ok(Stored::Database) => {}
        // On local disk, flushed; written into the database when it answers again.
        Ok(Stored::Journal) => state.metrics.audit_rows_journaled.inc(),
        Err(e) => {
            // The producer still gets its answer; the gap is counted and logged.
            state.metrics.audit_write_failures.inc();
            tracing::error!(tx = %tx.id, error = %e, "audit row not written");
        }
    }
    resp
}

/// Resolves the calling producer from its certificate and the registry; the row gets the
/// CN and the producer.
async fn authenticate(
    state: &AppState,
    identity: &ClientIdentity,
    row: &mut TransactionRecord,
) -> Result<Producer, MwError> {
    let refuse = |status, detail: String, reason| MwError::Unauthorized {
        status,
        detail,
        reason,
    };
    let cert = identity
        .certificate
        .as_ref()
        .map_err(|why| refuse(StatusCode::UNAUTHORIZED, why.detail.clone(), why.reason))?;
    let cn = cert.subject_cn().to_string();
    row.client_cn = Some(cn.clone());
    if !state.cn_patterns.accepts(&cn) {
        let detail = format!("il CN {cn:?} non segue le convenzioni regionali");
        return Err(refuse(StatusCode::FORBIDDEN, detail, "cn_pattern"));
    }
    let producer = state
        .producers
        .find(&state.pool, &cn)
        .await
        .map_err(|e| MwError::from_db("producer registry", e))?
        .ok_or_else(|| {
            refuse(
                StatusCode::FORBIDDEN,
                format!("il CN {cn:?} non è registrato"),
                "unregistered",
            )
        })?;
    row.producer_id = Some(producer.id);
    if !producer.enabled {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            format!("il produttore {cn:?} è disabilitato"),
            "disabled",
        ));
    }
    Ok(producer)
}

/// Adds the transaction header to a response.
fn with_transaction_header(
    mut resp: Response,
    name: &http::HeaderName,
    tx: &TxContext,
) -> Response {
    if let Ok(v) = HeaderValue::from_str(&tx.id.to_string()) {
        resp.headers_mut().insert(name.clone(), v);
    }
    resp
}

/// A service reached without the front door: a wiring defect, never a caller's fault.
#[derive(Debug)]
pub struct NoFrontDoor;

impl IntoResponse for NoFrontDoor {
    fn into_response(self) -> Response {
        tracing::error!("a producer route is served without the front door");
        (StatusCode::INTERNAL_SERVER_ERROR, "front door missing").into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Transaction {
    type Rejection = NoFrontDoor;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.remove::<Self>().ok_or(NoFrontDoor)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = NoFrontDoor;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.remove::<Self>().ok_or(NoFrontDoor)
    }
}
