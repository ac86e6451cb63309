//! Compact JWS (RFC 7515) as the national gateway uses it: RS256 with an `x5c` header.
//!
//! Claims are kept as raw JSON text, in their original order, so that a token
//! re-issued by the region carries the producer's informational claims byte for byte.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::{Certificate, Error, Signer};

/// A decoded (not yet verified) token.
#[derive(Debug)]
pub struct Jwt {
    /// The JOSE header.
    pub header: JoseHeader,
    /// The payload claims, raw, in order.
    pub claims: RawClaims,
    signing_input: String,
    signature: Vec<u8>,
}

/// The JOSE header fields the gateway uses.
#[derive(Debug, Deserialize)]
pub struct JoseHeader {
    /// Signature algorithm (`RS256`, `RS384`, `RS512`).
    pub alg: String,
    /// Token type, `JWT`.
    #[serde(default)]
    pub typ: Option<String>,
    /// Signing certificate chain, base64 DER (an array; a bare string is accepted too).
    #[serde(default, deserialize_with = "one_or_many")]
    pub x5c: Vec<String>,
}

/// JWT claims as raw JSON values in document order.
#[derive(Debug, Default, Clone)]
pub struct RawClaims(Vec<(String, Box<RawValue>)>);

// === impl Jwt ===

impl Jwt {
    /// Splits and decodes a compact token; the signature is not checked here.
    pub fn parse(token: &str) -> Result<Self, Error> {
        let token = token.trim();
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::JwtMalformed(
                "a JWT has three dot-separated parts".into(),
            ));
        };
        let decode = |part: &str, what: &str| {
            URL_SAFE_NO_PAD
                .decode(part.trim_end_matches('='))
                .map_err(|e| Error::JwtMalformed(format!("{what} is not base64url: {e}")))
        };
        let header_json = decode(h, "header")?;
        let payload_json = decode(p, "payload")?;
        let signature = decode(s, "signature")?;
        let header: JoseHeader = serde_json::from_slice(&header_json)
            .map_err(|e| Error::JwtMalformed(format!("header is not a JOSE header: {e}")))?;
        let payload = std::str::from_utf8(&payload_json)
            .map_err(|_| Error::JwtMalformed("payload is not UTF-8".into()))?;
        let claims: RawClaims = serde_json::from_str(payload)
            .map_err(|e| Error::JwtMalformed(format!("payload is not a JSON object: {e}")))?;
        Ok(Self {
            header,
            claims,
            signing_input: format!("{h}.{p}"),
            signature,
        })
    }

    /// The leaf certificate of the `x5c` header.
    pub fn x5c_leaf(&self) -> Result<Certificate, Error> {
        let first = self
            .header
            .x5c
            .first()
            .ok_or_else(|| Error::JwtMalformed("no x5c header".into()))?;
        Certificate::from_x5c(first)
    }

    /// The DER bytes of the `x5c` leaf, decoded but not parsed (none when absent or not base64).
    pub fn x5c_leaf_der(&self) -> Option<Vec<u8>> {
        use base64::Engine;
        let first = self.header.x5c.first()?;
        base64::engine::general_purpose::STANDARD
            .decode(first.trim())
            .ok()
    }

    /// Checks the signature with `cert`'s public key.
    pub fn verify_with(&self, cert: &Certificate) -> Result<(), Error> {
        use aws_lc_rs::signature as sig;
        let alg: &dyn sig::VerificationAlgorithm = match self.header.alg.as_str() {
            "RS256" => &sig::RSA_PKCS1_2048_8192_SHA256,
            "RS384" => &sig::RSA_PKCS1_2048_8192_SHA384,
            "RS512" => &sig::RSA_PKCS1_2048_8192_SHA512,
            other => return Err(Error::JwtSignature(format!("unsupported alg {other}"))),
        };
        sig::UnparsedPublicKey::new(alg, cert.public_key())
            .verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| Error::JwtSignature(format!("not signed by {}", cert.subject_cn())))
    }
}

/// Signs `claims` as an RS256 token whose `x5c` is `signer`'s chain.
pub fn sign_rs256(claims: &RawClaims, signer: &dyn Signer) -> Result<String, Error> {
    let x5c: Vec<String> = signer.chain().iter().map(Certificate::to_x5c).collect();
    let header = serde_json::json!({ "alg": "RS256", "typ": "JWT", "x5c": x5c });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_json())
    );
    let signature = signer.sign_pkcs1_sha256(input.as_bytes())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

// === impl RawClaims ===

impl RawClaims {
    /// The raw JSON text of a claim.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.get())
    }

    /// A claim as a string: JSON strings unquoted, other values as their JSON text.
    pub fn string(&self, name: &str) -> Option<String> {
        let raw = self.raw(name)?;
        match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(serde_json::Value::String(s)) => Some(s),
            Ok(serde_json::Value::Null) => None,
            _ => Some(raw.to_string()),
        }
    }

    /// A claim as an integer (seconds for `iat`/`exp`).
    pub fn integer(&self, name: &str) -> Option<i64> {
        serde_json::from_str::<serde_json::Value>(self.raw(name)?)
            .ok()?
            .as_i64()
    }

    /// Sets `name` to the JSON `value`, keeping its position when present, else appending.
    pub fn set(&mut self, name: &str, value: &serde_json::Value) {
        let raw =
            RawValue::from_string(value.to_string()).expect("a serde_json value is valid JSON");
        match self.0.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = raw,
            None => self.0.push((name.to_string(), raw)),
        }
    }

    /// Claim names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// The claims as a JSON object, each value exactly as it was received.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::Value::String(k.clone()).to_string());
            out.push(':');
            out.push_str(v.get());
        }
        out.push('}');
        out
    }

    /// Builds claims from a JSON object.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, Error> {
        serde_json::from_str(&value.to_string()).map_err(|e| Error::JwtMalformed(e.to_string()))
    }
}

impl<'de> Deserialize<'de> for RawClaims {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawClaims;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawClaims, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Box<RawValue>>()? {
                    out.push((k, v));
                }
                Ok(RawClaims(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_claims_keep_order_and_bytes() {
        let text = r#"{"sub":"RSSMRA22A01A399Z^^^&2.16.840.1.113883.2.9.4.3.2&ISO","n":1.50,"u":"\u00e8","b":true}"#;
        let mut c: RawClaims = serde_json::from_str(text).unwrap();
        assert_eq!(c.to_json(), text);
        c.set("n", &serde_json::json!(2));
        assert_eq!(c.names().collect::<Vec<_>>(), ["sub", "n", "u", "b"]);
        assert_eq!(c.raw("u"), Some(r#""\u00e8""#));
        assert_eq!(c.string("u").as_deref(), Some("è"));
        assert_eq!(c.integer("n"), Some(2));
    }

    #[test]
    fn malformed_tokens_are_named() {
        assert!(matches!(Jwt::parse("abc"), Err(Error::JwtMalformed(_))));
        assert!(matches!(Jwt::parse("a.b.c"), Err(Error::JwtMalformed(_))));
    }
}
