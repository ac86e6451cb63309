//! A token key as the product's [`Signer`] and as a rustls client signing key.

use std::sync::{Arc, Mutex};

use cryptoki::context::Function;
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use rustls::SignatureScheme;
use rustls::pki_types::SubjectPublicKeyInfoDer;
use rustls::sign::SigningKey;

use super::KeyRef;
use super::token::Token;
use crate::{Certificate, Error, Signer};

/// A private key inside a PKCS#11 token, with its certificate chain.
#[derive(Clone)]
pub struct Pkcs11Signer(Arc<Inner>);

struct Inner {
    token: Arc<Token>,
    key: KeyRef,
    chain: Vec<Certificate>,
    handle: Mutex<Option<(u64, ObjectHandle)>>,
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("token", &self.0.token.label())
            .field("key", &self.0.key.label)
            .finish_non_exhaustive()
    }
}

// === impl Pkcs11Signer ===

impl Pkcs11Signer {
    /// Binds `key` of `token` to `chain`. Refuses a key that can leave the token
    /// (extractable or not sensitive) or that does not match the leaf certificate.
    pub fn new(token: Arc<Token>, key: KeyRef, chain: Vec<Certificate>) -> Result<Self, Error> {
        if chain.is_empty() {
            return Err(Error::Token(format!(
                "no certificate for key {}",
                key.label
            )));
        }
        let signer = Self(Arc::new(Inner {
            token,
            key,
            chain,
            handle: Mutex::new(None),
        }));
        let (extractable, sensitive) = signer.protection()?;
        if extractable || !sensitive {
            return Err(Error::Token(format!(
                "key {:?} (id {}) can leave the token (CKA_EXTRACTABLE={extractable}, CKA_SENSITIVE={sensitive}): refused",
                signer.0.key.label,
                hex(&signer.0.key.id)
            )));
        }
        let challenge = uuid::Uuid::new_v4().into_bytes();
        let sig = signer.sign(&Mechanism::Sha256RsaPkcs, &challenge)?;
        let cert = &signer.0.chain[0];
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            cert.public_key(),
        )
        .verify(&challenge, &sig)
        .map_err(|_| Error::KeyMismatch {
            key: format!(
                "token key {:?} (id {})",
                signer.0.key.label,
                hex(&signer.0.key.id)
            ),
            cert: cert.subject_cn().to_string(),
        })?;
        Ok(signer)
    }

    /// The token.
    pub fn token(&self) -> &Arc<Token> {
        &self.0.token
    }

    fn protection(&self) -> Result<(bool, bool), Error> {
        let handle = self.handle()?;
        self.0.token.with_session(|s, _| {
            let attrs = s.get_attributes(
                handle,
                &[AttributeType::Extractable, AttributeType::Sensitive],
            )?;
            let mut out = (true, false);
            for a in attrs {
                match a {
                    Attribute::Extractable(b) => out.0 = b,
                    Attribute::Sensitive(b) => out.1 = b,
                    _ => {}
                }
            }
            Ok(out)
        })
    }

    /// The private key's handle, with a clear error when the token has no such key.
    fn handle(&self) -> Result<ObjectHandle, Error> {
        let found = self
            .0
            .token
            .with_session(|s, generation| self.find_handle(s, generation))?;
        found.ok_or_else(|| {
            Error::Token(format!(
                "no private key with id {} in token {}",
                hex(&self.0.key.id),
                self.0.token.label()
            ))
        })
    }

    /// Looks the key up in `session` and caches its handle for this session generation.
    fn find_handle(
        &self,
        session: &Session,
        generation: u64,
    ) -> Result<Option<ObjectHandle>, CkError> {
        let template = [
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(self.0.key.id.clone()),
        ];
        let found = session.find_objects(&template)?.first().copied();
        if let Some(h) = found {
            *self.0.handle.lock().expect("handle lock") = Some((generation, h));
        }
        Ok(found)
    }

    /// Signs `data` with `mechanism` inside the token. Handles are cached per
    /// session generation: after a re-open the key is looked up again.
    pub fn sign(&self, mechanism: &Mechanism, data: &[u8]) -> Result<Vec<u8>, Error> {
        self.0.token.with_session(|s, generation| {
            let cached = match *self.0.handle.lock().expect("handle lock") {
                Some((g, h)) if g == generation => Some(h),
                _ => None,
            };
            let handle = match cached {
                Some(h) => h,
                None => self.find_handle(s, generation)?.ok_or(CkError::Pkcs11(
                    RvError::KeyHandleInvalid,
                    Function::FindObjects,
                ))?,
            };
            s.sign(mechanism, handle, data)
        })
    }
}

impl Signer for Pkcs11Signer {
    fn sign_pkcs1_sha256(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.sign(&Mechanism::Sha256RsaPkcs, message)
    }

    fn chain(&self) -> &[Certificate] {
        &self.0.chain
    }

    fn rustls_signing_key(&self) -> Result<Arc<dyn SigningKey>, Error> {
        Ok(Arc::new(TokenTlsKey(self.clone())))
    }

    fn backend(&self) -> &'static str {
        "pkcs11"
    }

    fn token_health(&self) -> Option<super::TokenHealth> {
        Some(self.0.token.health())
    }
}

/// rustls view of a token key.
#[derive(Debug)]
struct TokenTlsKey(Pkcs11Signer);

impl SigningKey for TokenTlsKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn rustls::sign::Signer>> {
        // TLS 1.3 only allows PSS; TLS 1.2 peers usually offer both.
        [
            SignatureScheme::RSA_PSS_SHA256,
            SignatureScheme::RSA_PKCS1_SHA256,
        ]
        .into_iter()
        .find(|s| offered.contains(s))
        .map(|scheme| {
            Box::new(TokenTlsSigner {
                key: self.0.clone(),
                scheme,
            }) as Box<dyn rustls::sign::Signer>
        })
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        Some(SubjectPublicKeyInfoDer::from(
            self.0.0.chain[0].spki().to_vec(),
        ))
    }

    fn algorithm(&self) -> rustls::SignatureAlgorithm {
        rustls::SignatureAlgorithm::RSA
    }
}

#[derive(Debug)]
struct TokenTlsSigner {
    key: Pkcs11Signer,
    scheme: SignatureScheme,
}

impl rustls::sign::Signer for TokenTlsSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        let mechanism = match self.scheme {
            SignatureScheme::RSA_PSS_SHA256 => Mechanism::Sha256RsaPkcsPss(PkcsPssParams {
                hash_alg: MechanismType::SHA256,
                mgf: PkcsMgfType::MGF1_SHA256,
                s_len: 32.into(),
            }),
            _ => Mechanism::Sha256RsaPkcs,
        };
        self.key
            .sign(&mechanism, message)
            .map_err(|e| rustls::Error::General(e.to_string()))
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

/// Lower-case hex of a key id.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
