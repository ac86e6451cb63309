//! Sign-in to the console: PBKDF2-HMAC-SHA256 password hashes, HMAC-signed session
//! cookies (`user|role|expiry|mac`, HttpOnly, SameSite=Strict), and a per-session token
//! that every form posting a change must carry (CSRF).

use std::num::NonZeroU32;

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

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Read transactions, reports and health; download support bundles.
    Helpdesk,
    /// Also retry queued publications by hand.
    Operator,
}

impl Role {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "helpdesk" => Some(Self::Helpdesk),
            "operator" => Some(Self::Operator),
            _ => None,
        }
    }

    /// The configuration name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Helpdesk => "helpdesk",
            Self::Operator => "operator",
        }
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

/// Users and the session key.
#[derive(Debug)]
pub struct Auth {
    users: Vec<(String, String, Role)>,
    key: hmac::Key,
    session_secs: i64,
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
    /// From the configuration (roles already checked by `Config::validate`).
    pub fn new(config: &ConsoleConfig) -> Self {
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
        }
    }

    /// Checks a sign-in; the `Set-Cookie` value on success.
    pub fn sign_in(&self, user: &str, password: &str) -> Option<String> {
        let (name, hash, role) = self.users.iter().find(|(n, _, _)| n == user)?;
        if !verify_password(hash, password) {
            return None;
        }
        let expiry = OffsetDateTime::now_utc().unix_timestamp() + self.session_secs;
        let payload = format!("{}|{}|{expiry}", B64.encode(name), role.name());
        let mac = B64.encode(hmac::sign(&self.key, payload.as_bytes()).as_ref());
        Some(format!(
            "{COOKIE}={payload}|{mac}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
            self.session_secs
        ))
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

/// The `Set-Cookie` value that ends a session.
pub fn sign_out_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConsoleUser;

    fn auth() -> Auth {
        Auth::new(&ConsoleConfig {
            users: vec![ConsoleUser {
                name: "anna".into(),
                password_hash: hash_password("segreta", 1000),
                role: "helpdesk".into(),
            }],
            session_key: None,
            session_hours: 8,
            public_page: false,
        })
    }

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let value = cookie.split(';').next().unwrap();
        h.insert(http::header::COOKIE, value.parse().unwrap());
        h
    }

    #[test]
    fn sessions_are_signed_and_forms_carry_their_token() {
        let a = auth();
        assert!(a.sign_in("anna", "sbagliata").is_none());
        assert!(a.sign_in("nessuno", "segreta").is_none());
        let cookie = a.sign_in("anna", "segreta").unwrap();
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
}
