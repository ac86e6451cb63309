//! The gateway's push notifications (spec 2.22 §11.2–11.3, `swagger_status.yaml`): when
//! an accepted publication's workflow reaches a **final** status, the simulator POSTs the
//! workflow's whole ordered list of events to `{X-Callback-Url}/v1/workflow/status`
//! over mutual TLS (`--push-cert`, `--push-key`, trusting `--push-ca`).
//!
//! Final, as status-manager decides it (`TransactionEventsSRV.isFinalStatus`, list of
//! it-fse-gtw-status-manager @ 9c8f942, commit d3702c7): `SEND_TO_INI` or `SEND_TO_UAR`
//! with `BLOCKING_ERROR`, `UAR_FINAL_STATUS` whatever its status; only then does it
//! publish the workflow to the notifier's topic. The URL is the one the create/replace
//! brought (`PublicationCTL` reads `X-Callback-Url` on create, replace and validate-and-*,
//! no validation of it; dispatcher `develop` @ 43daaa28). A failed `SEND_TO_EDS` is not
//! final: no push.
//!
//! Faults for the tests (`POST /faults {"push": …}`): `drop` sends nothing, `delay` waits
//! `push_delay_ms` more, `duplicate` sends the notification twice, `reorder` sends the
//! events newest first. **Unverified**: the notifier itself is not public — its TLS,
//! timeouts, retries and what it counts as delivered; without a callback URL the real
//! gateway looks up its routing table, which the simulator does not have (no push then).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::SimState;

/// What the simulator does to its pushes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PushFault {
    /// Push normally.
    #[default]
    None,
    /// Never push.
    Drop,
    /// Push `push_delay_ms` late.
    Delay,
    /// Push each notification twice.
    Duplicate,
    /// Push the events newest first.
    Reorder,
}

/// The push fault in force, with its delay.
#[derive(Debug, Default)]
pub struct PushFaults(RwLock<(PushFault, u64)>);

impl PushFaults {
    /// The fault and its delay.
    pub fn get(&self) -> (PushFault, u64) {
        *self.0.read().expect("push fault lock")
    }

    /// Replaces them.
    pub fn set(&self, fault: PushFault, delay_ms: u64) {
        *self.0.write().expect("push fault lock") = (fault, delay_ms);
    }
}

/// The client that pushes, when the simulator was given one.
#[derive(Debug, Clone)]
pub struct Pusher {
    http: reqwest::Client,
}

impl Pusher {
    /// A mutual-TLS client: `cert`/`key` presented, `ca` trusted.
    pub fn new(cert: &str, key: &str, ca: &str) -> anyhow::Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        for c in middleware::server::tls::load_certs(ca)? {
            roots.add(c)?;
        }
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_client_auth_cert(
                middleware::server::tls::load_certs(cert)?,
                middleware::server::tls::load_key(key)?,
            )?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self { http })
    }
}

/// After an accepted publication with an `X-Callback-Url`: a push when its workflow
/// reaches a final status.
pub fn after_publication(state: &Arc<SimState>, headers: &http::HeaderMap, wii: Option<&str>) {
    let (Some(wii), Some(callback)) = (
        wii,
        headers.get("x-callback-url").and_then(|v| v.to_str().ok()),
    ) else {
        return;
    };
    // The first final status of the workflow (its asynchronous steps are already planned).
    let times: Vec<i64> = {
        let store = state
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        store
            .events
            .iter()
            .filter(|e| e.workflow_instance_id == wii && is_final(&e.event_type, &e.event_status))
            .map(|e| e.at_ms)
            .min()
            .into_iter()
            .collect()
    };
    schedule(state, wii.to_string(), callback.to_string(), times);
}

/// Whether the status manager counts the event as the workflow's end.
fn is_final(event_type: &str, status: &str) -> bool {
    matches!(
        (event_type, status),
        ("SEND_TO_INI" | "SEND_TO_UAR", "BLOCKING_ERROR") | ("UAR_FINAL_STATUS", _)
    )
}

/// Pushes the events of `wii` to `callback` at each of `step_times` (unix ms, simulator
/// clock), in the background.
fn schedule(state: &Arc<SimState>, wii: String, callback: String, step_times: Vec<i64>) {
    let Some(pusher) = state.pusher.clone() else {
        return;
    };
    let state = state.clone();
    tokio::spawn(async move {
        for at in step_times {
            let wait = (at - state.now_ms()).max(0);
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
            let (fault, delay_ms) = state.push_faults.get();
            let body = notification(&state, &wii, fault == PushFault::Reorder);
            match fault {
                PushFault::Drop => continue,
                PushFault::Delay => tokio::time::sleep(Duration::from_millis(delay_ms)).await,
                _ => {}
            }
            let times = if fault == PushFault::Duplicate { 2 } else { 1 };
            for _ in 0..times {
                let url = format!("{}/v1/workflow/status", callback.trim_end_matches('/'));
                let sent = pusher.http.post(&url).json(&body).send().await;
                if let Err(e) = sent {
                    tracing::warn!(error = %e, url, "push not delivered");
                }
            }
        }
    });
}

/// `WorkflowStatusDTO`: the events of `wii` so far, oldest first (or newest first).
fn notification(state: &SimState, wii: &str, newest_first: bool) -> Value {
    let now = state.now_ms();
    let store = state
        .store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut ours: Vec<&crate::store::Event> = store
        .events
        .iter()
        .filter(|e| e.workflow_instance_id == wii && e.at_ms <= now)
        .collect();
    ours.sort_by_key(|e| e.at_ms);
    let mut events: Vec<Value> = ours
        .into_iter()
        .map(|e| {
            let mut ev = json!({
                "eventType": e.event_type,
                "eventDate": e.event_date,
                "eventStatus": e.event_status,
            });
            if let Some(i) = &e.issuer {
                ev["issuer"] = json!(i);
            }
            if let Some(m) = &e.message {
                ev["message"] = json!(m);
            }
            ev
        })
        .collect();
    if newest_first {
        events.reverse();
    }
    json!({"workflowInstanceId": wii, "events": events})
}
