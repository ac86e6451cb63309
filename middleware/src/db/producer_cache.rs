//! The producer registry as requests read it: each CN's entry (or its absence) reused for
//! `server.producer_cache_secs`, so that a request does not cost a database round trip.
//! Registry changes (`fsemw producer add/disable`, another process) apply within that time.
//! While the database cannot be reached, an entry read in the last [`STALE_IF_UNAVAILABLE`]
//! is used still, so that a database restart does not stop the region's traffic.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;

use super::DbError;
use super::producers::{Producer, find_by_cn};

/// Entries kept at most; past it the cache starts afresh (CNs come from certificates the
/// regional CA issued, so this is a safeguard, not a working size).
const MAX_ENTRIES: usize = 10_000;

/// How old an entry may be and still serve while the database is unreachable.
pub const STALE_IF_UNAVAILABLE: Duration = Duration::from_secs(15 * 60);

/// Recently read registry entries by certificate CN.
#[derive(Debug)]
pub struct ProducerCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Option<Producer>)>>,
}

impl ProducerCache {
    /// A cache keeping entries for `ttl_secs` (0: none).
    pub fn new(ttl_secs: u64) -> Self {
        Self {
            ttl: Duration::from_secs(ttl_secs),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The registry entry of `cn`, from the cache when fresh.
    pub async fn find(&self, pool: &Pool, cn: &str) -> Result<Option<Producer>, DbError> {
        if !self.ttl.is_zero() {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, p)) = entries.get(cn)
                && at.elapsed() < self.ttl
            {
                return Ok(p.clone());
            }
        }
        let found = match find_by_cn(pool, cn).await {
            Ok(found) => found,
            Err(e) if e.is_unavailable() => {
                let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
                return match entries.get(cn) {
                    Some((at, p)) if at.elapsed() < STALE_IF_UNAVAILABLE => Ok(p.clone()),
                    _ => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        if !self.ttl.is_zero() {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(cn.to_string(), (Instant::now(), found.clone()));
        }
        Ok(found)
    }
}
