//! A PKCS#11 token with a pool of logged-in sessions.
//!
//! The module is loaded and initialised once per process (a PKCS#11 library has
//! one state per process). Sessions are not safe for parallel use, so each
//! operation takes one from the pool and gives it back. When an operation fails
//! because the session or the token went away, every pooled session is dropped,
//! a fresh logged-in session is opened and the operation is tried once more;
//! the failure and the re-opening are counted for `/readyz` and metrics.
//!
//! When even a fresh session cannot be opened because the token is no longer in its
//! slot (a network HSM that lost its link, a token re-inserted, SoftHSM2's token folder
//! gone and back), the module's slot list is stale: the module is finalised and
//! initialised again (`C_Finalize` + `C_Initialize`, at most once per
//! [`REINIT_INTERVAL`]) and the operation tried once more, so the keys come back without
//! a restart. Operations hold a shared lock that re-initialisation takes exclusively, and
//! sessions of an earlier initialisation are never closed (their handles may belong to
//! new sessions by then).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use secrecy::{ExposeSecret, SecretString};

use crate::Error;

static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();

/// Held shared by every token operation, exclusively while a module is re-initialised.
static CALLS: RwLock<()> = RwLock::new(());

/// Counts module re-initialisations: a session opened under an earlier one is stale.
static EPOCH: AtomicU64 = AtomicU64::new(0);

/// When each module was last re-initialised.
static REINITIALISED: OnceLock<Mutex<HashMap<PathBuf, Instant>>> = OnceLock::new();

/// Least time between two re-initialisations of a module (while the token stays away,
/// operations fail fast in between).
pub const REINIT_INTERVAL: Duration = Duration::from_secs(1);

/// Finalises and initialises the module again; false when it was done less than
/// [`REINIT_INTERVAL`] ago (or the module is not loaded).
fn reinitialise(path: &Path) -> Result<bool, Error> {
    let _exclusive = CALLS.write().unwrap_or_else(|e| e.into_inner());
    let mut last = REINITIALISED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if last
        .get(path)
        .is_some_and(|t| t.elapsed() < REINIT_INTERVAL)
    {
        return Ok(false);
    }
    last.insert(path.to_path_buf(), Instant::now());
    let Some(ctx) = MODULES
        .get()
        .and_then(|m| m.lock().ok()?.get(path).cloned())
    else {
        return Ok(false);
    };
    EPOCH.fetch_add(1, Ordering::SeqCst);
    let _ = ctx.clone().finalize();
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(true),
        Err(e) => Err(pkcs11_error("C_Initialize", e)),
    }
}

/// A session and the initialisation it belongs to.
struct Pooled {
    epoch: u64,
    session: Session,
}

impl Pooled {
    fn new(session: Session) -> Self {
        Self {
            epoch: EPOCH.load(Ordering::SeqCst),
            session,
        }
    }

    /// Closes the session, unless the module was re-initialised since it was opened: its
    /// handle is then meaningless or someone else's, so it is only forgotten.
    fn discard(self) {
        if self.epoch != EPOCH.load(Ordering::SeqCst) {
            std::mem::forget(self.session);
        }
    }
}

/// Whether an error means the token is not there at all (a fresh session failed).
fn is_token_gone(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::TokenNotPresent
                | RvError::DeviceRemoved
                | RvError::DeviceError
                | RvError::CryptokiNotInitialized,
            _
        )
    )
}

/// The process-wide, initialised context of a PKCS#11 module.
pub fn module(path: &Path) -> Result<Pkcs11, Error> {
    let mut modules = MODULES
        .get_or_init(Default::default)
        .lock()
        .expect("module registry lock");
    if let Some(m) = modules.get(path) {
        return Ok(m.clone());
    }
    let ctx =
        Pkcs11::new(path).map_err(|e| pkcs11_error(&format!("loading {}", path.display()), e))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(pkcs11_error("C_Initialize", e)),
    }
    modules.insert(path.to_path_buf(), ctx.clone());
    Ok(ctx)
}

/// Wraps a cryptoki error with what was being done.
pub fn pkcs11_error(what: &str, e: CkError) -> Error {
    Error::Token(format!("{what}: {e}"))
}

/// Whether an error means the session, its login or the token is gone (worth
/// re-opening). After a logout SoftHSM2 reports private-key handles as invalid.
fn is_session_loss(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::SessionHandleInvalid
                | RvError::KeyHandleInvalid
                | RvError::ObjectHandleInvalid
                | RvError::SessionClosed
                | RvError::DeviceRemoved
                | RvError::DeviceError
                | RvError::TokenNotPresent
                | RvError::UserNotLoggedIn
                | RvError::CryptokiNotInitialized
                | RvError::GeneralError,
            _
        )
    )
}

/// Health of a token, for `/readyz` and metrics.
#[derive(Debug, Clone)]
pub struct TokenHealth {
    /// Whether the last operation succeeded.
    pub up: bool,
    /// Operations that failed after the retry.
    pub errors: u64,
    /// Times the sessions were re-opened.
    pub reopens: u64,
    /// The last error, if any.
    pub last_error: Option<String>,
}

/// One token, found by label.
pub struct Token {
    ctx: Pkcs11,
    module_path: PathBuf,
    label: String,
    pin: SecretString,
    pool: Mutex<Vec<Pooled>>,
    max_idle: usize,
    generation: AtomicU64,
    up: AtomicBool,
    errors: AtomicU64,
    reopens: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("label", &self.label)
            .field("module", &self.module_path)
            .finish_non_exhaustive()
    }
}

// === impl Token ===

impl Token {
    /// Opens the token `label` of `module_path` and logs in once to check the PIN.
    pub fn open(
        module_path: &Path,
        label: &str,
        pin: SecretString,
        sessions: usize,
    ) -> Result<Self, Error> {
        let token = Self {
            ctx: module(module_path)?,
            module_path: module_path.to_path_buf(),
            label: label.to_string(),
            pin,
            pool: Mutex::new(Vec::new()),
            max_idle: sessions.max(1),
            generation: AtomicU64::new(0),
            up: AtomicBool::new(true),
            errors: AtomicU64::new(0),
            reopens: AtomicU64::new(0),
            last_error: Mutex::new(None),
        };
        let session = token.new_session()?;
        token
            .pool
            .lock()
            .expect("pool lock")
            .push(Pooled::new(session));
        Ok(token)
    }

    /// The token label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The module path.
    pub fn module_path(&self) -> &Path {
        &self.module_path
    }

    /// Changes each time the sessions are re-opened (object handles may change).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// The slot holding the token.
    pub fn slot(&self) -> Result<Slot, Error> {
        let slots = self
            .ctx
            .get_slots_with_token()
            .map_err(|e| pkcs11_error("C_GetSlotList", e))?;
        for slot in slots {
            if let Ok(info) = self.ctx.get_token_info(slot)
                && info.label().trim_end() == self.label
            {
                return Ok(slot);
            }
        }
        Err(Error::Token(format!(
            "no token labelled {:?} in {}",
            self.label,
            self.module_path.display()
        )))
    }

    fn new_session(&self) -> Result<Session, Error> {
        self.open_logged_in()
            .map_err(|(what, e)| pkcs11_error(what, e))
    }

    /// A fresh logged-in session, or which call failed and how (a token missing from
    /// the slot list is `TokenNotPresent`).
    fn open_logged_in(&self) -> Result<Session, (&'static str, CkError)> {
        let slot = self.slot().map_err(|_| {
            (
                "no such token",
                CkError::Pkcs11(
                    RvError::TokenNotPresent,
                    cryptoki::context::Function::GetSlotList,
                ),
            )
        })?;
        let session = self
            .ctx
            .open_ro_session(slot)
            .map_err(|e| ("C_OpenSession", e))?;
        let pin = AuthPin::new(self.pin.expose_secret().to_string().into());
        match session.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(e) => Err(("C_Login", e)),
        }
    }

    /// Runs `op` on a pooled session, re-opening once if the session or token went away
    /// (and re-initialising the module once if the token is not in its slot any more).
    pub fn with_session<T>(
        &self,
        op: impl Fn(&Session, u64) -> Result<T, CkError>,
    ) -> Result<T, Error> {
        let result = self.attempt(&op).or_else(|first| {
            if !is_session_loss(&first) {
                return Err(pkcs11_error("token operation", first));
            }
            self.drop_sessions();
            self.reopens.fetch_add(1, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Relaxed);
            match self.attempt(&op) {
                Err(e) if is_token_gone(&e) && reinitialise(&self.module_path)? => {
                    self.drop_sessions();
                    self.generation.fetch_add(1, Ordering::Relaxed);
                    self.attempt(&op).map_err(|e| {
                        pkcs11_error("token operation after re-initialising the module", e)
                    })
                }
                other => other.map_err(|e| pkcs11_error("token operation after re-opening", e)),
            }
        });
        match &result {
            Ok(_) => self.up.store(true, Ordering::Relaxed),
            Err(e) => {
                self.up.store(false, Ordering::Relaxed);
                self.errors.fetch_add(1, Ordering::Relaxed);
                let mut last = self.last_error.lock().expect("error lock");
                let cause = last.take().map(|c| format!(" ({c})")).unwrap_or_default();
                *last = Some(format!("{e}{cause}"));
                drop(last);
                self.drop_sessions();
            }
        }
        result
    }

    fn attempt<T>(&self, op: &impl Fn(&Session, u64) -> Result<T, CkError>) -> Result<T, CkError> {
        let _shared = CALLS.read().unwrap_or_else(|e| e.into_inner());
        let epoch = EPOCH.load(Ordering::SeqCst);
        let pooled = loop {
            match self.pool.lock().expect("pool lock").pop() {
                Some(p) if p.epoch == epoch => break Some(p),
                Some(stale) => stale.discard(),
                None => break None,
            }
        };
        let pooled = match pooled {
            Some(p) => p,
            None => Pooled::new(self.open_logged_in().map_err(|(what, e)| {
                *self.last_error.lock().expect("error lock") = Some(format!("{what}: {e}"));
                e
            })?),
        };
        let result = op(&pooled.session, self.generation());
        if result.is_ok() {
            let mut pool = self.pool.lock().expect("pool lock");
            if pool.len() < self.max_idle {
                pool.push(pooled);
                return result;
            }
        }
        pooled.discard();
        result
    }

    fn drop_sessions(&self) {
        let stale: Vec<Pooled> = self.pool.lock().expect("pool lock").drain(..).collect();
        for p in stale {
            p.discard();
        }
    }

    /// Logs the application out of the token: every open session loses its login,
    /// as when a token is reset or its sessions are killed (recovery drills and tests).
    pub fn logout_all(&self) -> Result<(), Error> {
        let session = self
            .ctx
            .open_ro_session(self.slot()?)
            .map_err(|e| pkcs11_error("C_OpenSession", e))?;
        session.logout().map_err(|e| pkcs11_error("C_Logout", e))
    }

    /// Health counters.
    pub fn health(&self) -> TokenHealth {
        TokenHealth {
            up: self.up.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            reopens: self.reopens.load(Ordering::Relaxed),
            last_error: self.last_error.lock().expect("error lock").clone(),
        }
    }

    /// Checks the token answers (opens or reuses a session).
    pub fn probe(&self) -> Result<(), Error> {
        self.with_session(|s, _| s.get_session_info().map(|_| ()))
    }
}
