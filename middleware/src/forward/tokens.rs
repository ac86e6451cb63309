//! The producer's JWT pair on its way to the gateway.
//!
//! Case 1: both tokens go through untouched; the middleware reads their claims and checks
//! that their `x5c` is one of the producer's signing certificates (a producer cannot pass
//! on another party's tokens); the gateway verifies the signature against it.
//! Case 2: each token must carry a valid signature by the producer's registered key
//! and an `exp` in the future; the middleware then re-issues it, signed with the
//! regional signature key. Every claim keeps its position and its exact JSON text,
//! except `iss` (`auth:`/`integrity:` + regional CN), `aud` (gateway base URL),
//! `iat`, `exp` and `jti`, which are issued anew. `x5c` carries the regional chain.
//!
//! A header that is absent or is not a decodable JWT is forwarded as received in
//! both cases: the gateway answers it with its own contract error.

use std::sync::Arc;

use hsm::jwt::{Jwt, RawClaims, sign_rs256};
use hsm::{Certificate, Signer};

use crate::keys::KeyStore;
use crate::metrics::Metrics;
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::problem::MwError;
use gateway_contract::claims as names;

/// Name of the header carrying the signature token.
pub const SIGNATURE_HEADER: &str = "fse-jwt-signature";

/// Internal marker of a request whose tokens the region minted (SOAP callers have none):
/// kept with a queued publication so that they are issued anew at delivery, whatever
/// the certificate case. Never sent to the gateway.
pub const REGIONAL_TOKENS_HEADER: &str = "x-fsemw-regional-tokens";

/// Claims of the bearer token besides those the region issues (as the official tool).
const BEARER_CLAIMS: [&str; 1] = [names::SUB];

/// How tokens are treated.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// 1 or 2.
    pub case: u8,
    /// The regional keys (the signature key in force signs).
    pub keys: Arc<KeyStore>,
    /// Signing latency and errors.
    pub metrics: Metrics,
    /// `aud` of re-issued tokens: the gateway base URL.
    pub audience: String,
    /// Lifetime of re-issued tokens, seconds.
    pub lifetime_secs: i64,
    /// Tolerated clock skew on producer `exp`, seconds.
    pub skew_secs: i64,
}

/// The headers to send and the claims read.
#[derive(Debug, Default)]
pub struct Tokens {
    /// `Authorization` value to forward.
    pub authorization: Option<HeaderValue>,
    /// `FSE-JWT-Signature` value to forward.
    pub signature: Option<HeaderValue>,
    /// Claims of the signature token (or of the bearer token when it is the only one).
    pub claims: Option<RawClaims>,
}

// === impl TokenPolicy ===

impl TokenPolicy {
    /// Processes both headers; `producer_keys` are the certificates one of whose keys must
    /// have signed them.
    pub fn process(
        &self,
        headers: &HeaderMap,
        producer_keys: &[Certificate],
    ) -> Result<Tokens, MwError> {
        let mut out = Tokens::default();
        // The pair in force when the request started signs both tokens.
        let signer = self.keys.signature();
        if let Some(value) = headers.get(http::header::AUTHORIZATION) {
            let (v, claims) = self.one(value, true, producer_keys, signer.as_ref())?;
            out.authorization = Some(v);
            out.claims = claims;
        }
        if let Some(value) = headers.get(SIGNATURE_HEADER) {
            let (v, claims) = self.one(value, false, producer_keys, signer.as_ref())?;
            out.signature = Some(v);
            if claims.is_some() {
                out.claims = claims;
            }
        }
        Ok(out)
    }

    fn one(
        &self,
        value: &HeaderValue,
        bearer: bool,
        producer_keys: &[Certificate],
        signer: &dyn Signer,
    ) -> Result<(HeaderValue, Option<RawClaims>), MwError> {
        let Ok(text) = value.to_str() else {
            return Ok((value.clone(), None));
        };
        let token = if bearer {
            match text.get(..7) {
                Some(p) if p.eq_ignore_ascii_case("bearer ") => &text[7..],
                _ => return Ok((value.clone(), None)),
            }
        } else {
            text
        };
        let Ok(jwt) = Jwt::parse(token) else {
            return Ok((value.clone(), None));
        };
        let which = if bearer {
            "Authorization"
        } else {
            "FSE-JWT-Signature"
        };
        let refuse = |detail: String| MwError::Unauthorized {
            status: StatusCode::FORBIDDEN,
            detail: format!("{which}: {detail}"),
            reason: "jwt",
        };
        if self.case == 1 {
            // Forwarded untouched, but only as the caller's own: the certificate in `x5c`
            // must be one of the producer's signing certificates (a byte comparison; the
            // gateway checks the signature against it). A token without a readable `x5c`
            // goes on, for the gateway to refuse.
            if let Some(der) = jwt.x5c_leaf_der()
                && !producer_keys
                    .iter()
                    .any(|k| k.der().as_ref() == der.as_slice())
            {
                let cn = Certificate::from_der(der.into())
                    .map(|c| c.subject_cn().to_string())
                    .unwrap_or_default();
                return Err(refuse(format!(
                    "il certificato x5c ({cn:?}) non è un certificato di firma del produttore"
                )));
            }
            return Ok((value.clone(), Some(jwt.claims)));
        }
        // Any of the producer's keys; when none verifies, the last one's reason.
        let mut verified = Err(hsm::Error::JwtMalformed("no signing certificate".into()));
        for key in producer_keys {
            verified = jwt.verify_with(key);
            if verified.is_ok() {
                break;
            }
        }
        verified.map_err(|e| refuse(e.to_string()))?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match jwt.claims.integer("exp") {
            None => return Err(refuse("the exp claim is missing".into())),
            Some(exp) if exp + self.skew_secs < now => {
                return Err(refuse("the token has expired".into()));
            }
            Some(_) => {}
        }
        let original = jwt.claims;
        let value = self.resign(&original, bearer, signer)?;
        Ok((value, Some(original)))
    }

    /// Tokens the region issues itself, for a caller that has none (the SOAP services):
    /// `claims` (a JSON object) go into the signature token; the bearer token carries
    /// `sub`. Both are signed with the regional signature key.
    pub fn mint(&self, claims: &serde_json::Value) -> Result<Tokens, MwError> {
        let signer = self.keys.signature();
        let full = RawClaims::from_value(claims).map_err(|e| MwError::Internal(e.to_string()))?;
        let bearer_only: serde_json::Map<String, serde_json::Value> = claims
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| BEARER_CLAIMS.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let bearer = RawClaims::from_value(&serde_json::Value::Object(bearer_only))
            .map_err(|e| MwError::Internal(e.to_string()))?;
        Ok(Tokens {
            authorization: Some(self.resign(&bearer, true, signer.as_ref())?),
            signature: Some(self.resign(&full, false, signer.as_ref())?),
            claims: Some(full),
        })
    }

    /// Case 2 for a request accepted earlier (the outbox): the producer's tokens were
    /// verified when the request arrived, so they are only re-issued now, with a fresh
    /// `iat`/`exp`. Case 1 forwards them as stored.
    pub fn reissue(&self, headers: &HeaderMap) -> Result<Tokens, MwError> {
        let mut out = Tokens::default();
        let signer = self.keys.signature();
        let resign = self.case == 2 || headers.contains_key(REGIONAL_TOKENS_HEADER);
        for (name, bearer) in [
            (http::header::AUTHORIZATION.as_str(), true),
            (SIGNATURE_HEADER, false),
        ] {
            let Some(value) = headers.get(name) else {
                continue;
            };
            let token = value.to_str().ok().map(|t| {
                if bearer {
                    t.get(7..).unwrap_or_default()
                } else {
                    t
                }
            });
            let parsed = token.and_then(|t| Jwt::parse(t).ok());
            let v = match parsed {
                Some(jwt) if resign => {
                    let v = self.resign(&jwt.claims, bearer, signer.as_ref())?;
                    out.claims = Some(jwt.claims);
                    v
                }
                Some(jwt) => {
                    out.claims = Some(jwt.claims);
                    value.clone()
                }
                None => value.clone(),
            };
            if bearer {
                out.authorization = Some(v);
            } else {
                out.signature = Some(v);
            }
        }
        Ok(out)
    }

    fn resign(
        &self,
        original: &RawClaims,
        bearer: bool,
        signer: &dyn Signer,
    ) -> Result<HeaderValue, MwError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut claims = original.clone();
        let prefix = if bearer { "auth:" } else { "integrity:" };
        claims.set(
            names::ISS,
            &serde_json::json!(format!("{prefix}{}", signer.certificate().subject_cn())),
        );
        claims.set(names::AUD, &serde_json::json!(self.audience));
        claims.set(names::IAT, &serde_json::json!(now));
        claims.set(names::EXP, &serde_json::json!(now + self.lifetime_secs));
        claims.set(
            names::JTI,
            &serde_json::json!(uuid::Uuid::new_v4().to_string()),
        );
        let started = std::time::Instant::now();
        let signed = sign_rs256(&claims, signer).map_err(|e| {
            self.metrics
                .signing_errors
                .with_label_values(&[signer.backend()])
                .inc();
            MwError::KeysUnavailable(format!("regional JWT signature: {e}"))
        })?;
        let elapsed = started.elapsed().as_secs_f64();
        self.metrics
            .signing_latency
            .with_label_values(&[signer.backend()])
            .observe(elapsed);
        let header = if bearer {
            format!("Bearer {signed}")
        } else {
            signed
        };
        HeaderValue::from_str(&header).map_err(|e| MwError::Internal(e.to_string()))
    }
}
