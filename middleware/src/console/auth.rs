//! Sign-in to the console: PBKDF2-HMAC-SHA256 password hashes, HMAC-signed session
//! cookies (`user|role|expiry|mac`, HttpOnly, SameSite=Strict, `Secure` behind TLS), and a
//! per-session token that every form posting a change must carry (CSRF).
//!
//! Guessing is slowed down: after [`FREE_FAILURES`] failed sign-ins of one user, or from
//! one address, further attempts are refused for a delay that doubles with each failure
//! (at most [`MAX_BLOCK_SECS`]), before any password is checked. An unknown user costs the
//! same PBKDF2 work as a known one, so the answer's time does not tell which names exist.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_lc_rs::{hmac, pbkdf2, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use http::HeaderMap;
use time::OffsetDateTime;

use crate::config::ConsoleConfig;

/// Name of the session cookie.
pub const COOKIE: &str = "fsemw_console";
/// Iterations of new password hashes.
pub const ITERATIONS: u32 = 600_000;

/// Failed sign-ins of a user or an address before attempts are delayed.
pub const FREE_FAILURES: u32 = 5;
/// The longest delay between attempts, seconds.
pub const MAX_BLOCK_SECS: u64 = 900;

/// What a user (of the console or of an admin API token) may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Read transactions (without their stored bodies), reports and health.
    Monitor,
    /// Also stored bodies and support bundles.
    Helpdesk,
    /// Also retry queued publications by hand, reload keys and revocation lists.
    Operator,
}

impl Role {
    /// The role of a configuration name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "monitor" => Some(Self::Monitor),
            "helpdesk" => Some(Self::Helpdesk),
            "operator" => Some(Self::Operator),
            _ => None,
        }
    }

    /// The configuration name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Monitor => "monitor",
            Self::Helpdesk => "helpdesk",
            Self::Operator => "operator",
        }
    }

    /// Whether it may read stored request and answer bodies (support bundles).
    pub fn reads_bodies(self) -> bool {
        self != Self::Monitor
    }

    /// Whether it may change things (retries, reloads).
    pub fn operates(self) -> bool {
        self == Self::Operator
    }
}

/// How a sign-in ended.
#[derive(Debug)]
pub enum SignIn {
    /// Accepted: the `Set-Cookie` value.
    Accepted(String),
    /// Wrong user or password.
    Refused,
    /// Too many failures: try again after this many seconds.
    Throttled(u64),
}

/// Failed sign-ins by user and by address.
#[derive(Debug, Default)]
struct Throttle(Mutex<HashMap<Attempter, Failures>>);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Attempter {
    User(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Instant,
}

impl Throttle {
    /// Seconds to wait before `who` may try again (0: now).
    fn wait(&self, who: &[Attempter], now: Instant) -> u64 {
        let failures = self.0.lock().expect("throttle lock");
        who.iter()
            .filter_map(|w| failures.get(w))
            .map(|f| {
                f.blocked_until
                    .saturating_duration_since(now)
                    .as_secs_f64()
                    .ceil() as u64
            })
            .max()
            .unwrap_or(0)
    }

    fn failed(&self, who: &[Attempter], now: Instant) {
        let mut failures = self.0.lock().expect("throttle lock");
        // Forget what has been quiet for an hour: the map stays as large as the attacks.
        failures.retain(|_, f| now.duration_since(f.last) < Duration::from_secs(3600));
        for w in who {
            let f = failures.entry(w.clone()).or_insert(Failures {
                count: 0,
                last: now,
                blocked_until: now,
            });
            f.count += 1;
            f.last = now;
            if f.count >= FREE_FAILURES {
                let secs = 1u64
                    .checked_shl(f.count - FREE_FAILURES)
                    .unwrap_or(u64::MAX)
                    .min(MAX_BLOCK_SECS);
                f.blocked_until = now + Duration::from_secs(secs);
            }
        }
    }

    fn succeeded(&self, user: &Attempter) {
        self.0.lock().expect("throttle lock").remove(user);
    }
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    /// Sign-in name.
    pub user: String,
    /// Role.
    pub role: Role,
    /// The cookie value, for the CSRF token.
    value: String,
}

/// The console's sign-in as a handler's substate (`Session` is extracted through it).
#[derive(Debug, Clone)]
pub struct ConsoleAuth(pub std::sync::Arc<Auth>);

/// Users and the session key.
#[derive(Debug)]
pub struct Auth {
    users: Vec<(String, String, Role)>,
    key: hmac::Key,
    session_secs: i64,
    secure_cookie: bool,
    throttle: Throttle,
    /// A hash of the users' cost, checked for unknown names (made at the first one).
    decoy: OnceLock<String>,
}

/// A password hash for the configuration: `pbkdf2-sha256$<iterations>$<salt>$<hash>`.
pub fn hash_password(password: &str, iterations: u32) -> String {
    let mut salt = [0u8; 16];
    rand::fill(&mut salt).expect("system randomness");
    let iterations = NonZeroU32::new(iterations.max(1)).expect("at least one");
    let mut out = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        &salt,
        password.as_bytes(),
        &mut out,
    );
    format!(
        "pbkdf2-sha256${iterations}${}${}",
        B64.encode(salt),
        B64.encode(out)
    )
}

fn verify_password(hash: &str, password: &str) -> bool {
    let parts: Vec<&str> = hash.split('$').collect();
    let ["pbkdf2-sha256", iterations, salt, expected] = parts.as_slice() else {
        return false;
    };
    let (Some(iterations), Ok(salt), Ok(expected)) = (
        iterations.parse().ok().and_then(NonZeroU32::new),
        B64.decode(salt),
        B64.decode(expected),
    ) else {
        return false;
    };
    pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        &salt,
        password.as_bytes(),
        &expected,
    )
    .is_ok()
}

impl Auth {
    /// From the configuration (roles already checked by `Config::validate`); `secure_cookie`
    /// marks the session cookie `Secure`.
    pub fn new(config: &ConsoleConfig, secure_cookie: bool) -> Self {
        let key = match &config.session_key {
            Some(k) => hmac::Key::new(
                hmac::HMAC_SHA256,
                secrecy::ExposeSecret::expose_secret(k).as_bytes(),
            ),
            None => hmac::Key::generate(hmac::HMAC_SHA256, &rand::SystemRandom::new())
                .expect("system randomness"),
        };
        Self {
            users: config
                .users
                .iter()
                .filter_map(|u| {
                    Some((
                        u.name.clone(),
                        u.password_hash.clone(),
                        Role::parse(&u.role)?,
                    ))
                })
                .collect(),
            key,
            session_secs: i64::from(config.session_hours.max(1)) * 3600,
            secure_cookie,
            throttle: Throttle::default(),
            decoy: OnceLock::new(),
        }
    }

    /// Checks a sign-in from `address` (slow: PBKDF2, call it off the async workers).
    pub fn sign_in(&self, user: &str, password: &str, address: IpAddr) -> SignIn {
        let known = self.users.iter().find(|(n, _, _)| n == user);
        // Only configured names are counted by name: made-up ones would fill the map.
        let mut who = vec![Attempter::Address(address)];
        if known.is_some() {
            who.push(Attempter::User(user.to_string()));
        }
        let now = Instant::now();
        let wait = self.throttle.wait(&who, now);
        if wait > 0 {
            return SignIn::Throttled(wait);
        }
        let Some((name, hash, role)) = known else {
            let decoy = self.decoy.get_or_init(|| {
                let iterations = self
                    .users
                    .first()
                    .and_then(|(_, h, _)| h.split('$').nth(1)?.parse().ok())
                    .unwrap_or(ITERATIONS);
                hash_password("decoy", iterations)
            });
            let _ = verify_password(decoy, password);
            self.throttle.failed(&who, now);
            return SignIn::Refused;
        };
        if !verify_password(hash, password) {
            self.throttle.failed(&who, now);
            return SignIn::Refused;
        }
        self.throttle.succeeded(&Attempter::User(name.clone()));
        let expiry = OffsetDateTime::now_utc().unix_timestamp() + self.session_secs;
        let payload = format!("{}|{}|{expiry}", B64.encode(name), role.name());
        let mac = B64.encode(hmac::sign(&self.key, payload.as_bytes()).as_ref());
        SignIn::Accepted(format!(
            "{COOKIE}={payload}|{mac}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
            self.session_secs,
            self.secure()
        ))
    }

    fn secure(&self) -> &'static str {
        if self.secure_cookie { "; Secure" } else { "" }
    }

    /// The `Set-Cookie` value that ends a session.
    pub fn sign_out_cookie(&self) -> String {
        format!(
            "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
            self.secure()
        )
    }

    /// The session of a request, if its cookie is genuine and not expired.
    pub fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let value = headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix(&format!("{COOKIE}=")))?
            .to_string();
        let (payload, mac) = value.rsplit_once('|')?;
        hmac::verify(&self.key, payload.as_bytes(), &B64.decode(mac).ok()?).ok()?;
        let mut parts = payload.split('|');
        let user = String::from_utf8(B64.decode(parts.next()?).ok()?).ok()?;
        let role = Role::parse(parts.next()?)?;
        let expiry: i64 = parts.next()?.parse().ok()?;
        if expiry < OffsetDateTime::now_utc().unix_timestamp() {
            return None;
        }
        Some(Session { user, role, value })
    }

    /// The token forms of this session carry.
    pub fn csrf_token(&self, session: &Session) -> String {
        let tag = hmac::sign(&self.key, format!("csrf|{}", session.value).as_bytes());
        B64.encode(tag.as_ref())
    }

    /// Whether `token` is this session's.
    pub fn csrf_ok(&self, session: &Session, token: &str) -> bool {
        B64.decode(token).is_ok_and(|t| {
            hmac::verify(&self.key, format!("csrf|{}", session.value).as_bytes(), &t).is_ok()
        })
    }
}

/// The signed-in user of a console request, as an extractor: a request without a valid
/// session cookie is sent to the sign-in page.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Session
where
    ConsoleAuth: axum::extract::FromRef<S>,
{
    type Rejection = axum::response::Redirect;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let ConsoleAuth(auth) = <ConsoleAuth as axum::extract::FromRef<S>>::from_ref(state);
        auth.session(&parts.headers)
            .ok_or_else(|| axum::response::Redirect::to("/console/login"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConsoleUser;

    fn auth() -> Auth {
        Auth::new(
            &ConsoleConfig {
                users: vec![ConsoleUser {
                    name: "anna".into(),
                    password_hash: hash_password("segreta", 1000),
                    role: "helpdesk".into(),
                }],
                session_key: None,
                session_hours: 8,
                public_page: false,
                secure_cookie: None,
            },
            true,
        )
    }

    fn accepted(s: SignIn) -> Option<String> {
        match s {
            SignIn::Accepted(c) => Some(c),
            _ => None,
        }
    }

    const HERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let value = cookie.split(';').next().unwrap();
        h.insert(http::header::COOKIE, value.parse().unwrap());
        h
    }

    #[test]
    fn sessions_are_signed_and_forms_carry_their_token() {
        let a = auth();
        assert!(accepted(a.sign_in("anna", "sbagliata", HERE)).is_none());
        assert!(accepted(a.sign_in("nessuno", "segreta", HERE)).is_none());
        let cookie = accepted(a.sign_in("anna", "segreta", HERE)).unwrap();
        assert!(cookie.contains("; Secure"), "{cookie}");
        let s = a.session(&headers(&cookie)).expect("session");
        assert_eq!((s.user.as_str(), s.role), ("anna", Role::Helpdesk));
        let token = a.csrf_token(&s);
        assert!(a.csrf_ok(&s, &token));
        assert!(!a.csrf_ok(&s, "AAAA"));
        // A changed role is not the signed one.
        let forged = cookie.replace("|helpdesk|", "|operator|");
        assert!(a.session(&headers(&forged)).is_none());
        // Another process's key does not accept it.
        assert!(auth().session(&headers(&cookie)).is_none());
    }

    #[test]
    fn guessing_is_delayed_by_user_and_by_address() {
        let a = auth();
        let other: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..FREE_FAILURES {
            assert!(matches!(a.sign_in("anna", "x", HERE), SignIn::Refused));
        }
        // Blocked now, even with the right password; from another address too (the user).
        assert!(matches!(
            a.sign_in("anna", "segreta", HERE),
            SignIn::Throttled(1)
        ));
        assert!(matches!(
            a.sign_in("anna", "segreta", other),
            SignIn::Throttled(_)
        ));
        // Unknown names are counted by address only.
        let spray: IpAddr = "192.0.2.8".parse().unwrap();
        for i in 0..FREE_FAILURES {
            assert!(matches!(
                a.sign_in(&format!("u{i}"), "x", spray),
                SignIn::Refused
            ));
        }
        assert!(matches!(a.sign_in("u9", "x", spray), SignIn::Throttled(_)));
        // The delay doubles with each failure.
        let t = Throttle::default();
        let who = [Attempter::Address(HERE)];
        let now = Instant::now();
        for _ in 0..FREE_FAILURES + 3 {
            t.failed(&who, now);
        }
        assert_eq!(t.wait(&who, now), 8);
        assert_eq!(t.wait(&who, now + Duration::from_secs(8)), 0);
    }
}
