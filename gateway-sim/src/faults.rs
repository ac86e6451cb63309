//! Fault injection for reliability tests: `POST /faults` on the simulator's admin listener.

use std::sync::RwLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the simulator does to incoming traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultMode {
    /// Behave normally.
    #[default]
    None,
    /// Close every new connection at once (the gateway is unreachable).
    Down,
    /// Wait `delay_ms` before answering.
    Delay,
    /// Answer every request with `status` and a generic error body.
    Error,
    /// Complete the TLS handshake, then drop the connection without answering.
    Reset,
}

/// The fault in force.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
pub struct FaultConfig {
    /// Mode.
    pub mode: FaultMode,
    /// For `delay`.
    #[serde(default)]
    pub delay_ms: u64,
    /// For `error`.
    #[serde(default)]
    pub status: Option<u16>,
}

/// Shared fault state.
#[derive(Debug)]
pub struct Faults {
    config: RwLock<FaultConfig>,
    /// Bumped when an outage starts (`down`, `reset`): open connections are closed.
    outage: tokio::sync::watch::Sender<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            config: RwLock::default(),
            outage: tokio::sync::watch::Sender::new(0),
        }
    }
}

// === impl Faults ===

impl Faults {
    /// The fault in force.
    pub fn get(&self) -> FaultConfig {
        *self.config.read().expect("fault lock")
    }

    /// Replaces the fault in force; rejects an invalid error status.
    pub fn set(&self, f: FaultConfig) -> Result<(), String> {
        if f.mode == FaultMode::Error && !f.status.is_some_and(|s| (400..=599).contains(&s)) {
            return Err("mode \"error\" needs a status between 400 and 599".into());
        }
        *self.config.write().expect("fault lock") = f;
        if matches!(f.mode, FaultMode::Down | FaultMode::Reset) {
            // Like a real outage, established connections go too.
            self.outage.send_modify(|g| *g += 1);
        }
        Ok(())
    }

    /// A receiver that changes at every outage.
    pub fn outages(&self) -> tokio::sync::watch::Receiver<u64> {
        self.outage.subscribe()
    }

    /// The delay to apply before answering, if any.
    pub fn delay(&self) -> Option<Duration> {
        let f = self.get();
        (f.mode == FaultMode::Delay).then(|| Duration::from_millis(f.delay_ms))
    }
}
