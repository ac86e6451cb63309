//! Development tokens in SoftHSM2: `fsemw hsm init-dev`.
//!
//! Creates a token in a private folder, generates both regional RSA-2048 key pairs
//! inside it (sensitive, not extractable), issues their certificates from a dev CA
//! with the regional CN conventions, and stores the certificates in the token too.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hsm::Certificate;
use hsm::pkcs11::Token;
use hsm::pkcs11::admin::{generate_rsa_key_pair, init_token, store_certificate};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_RSA_SHA256, PublicKeyData, SignatureAlgorithm,
};
use secrecy::SecretString;

/// Where SoftHSM2's module usually is on Debian.
pub const SOFTHSM_MODULES: [&str; 2] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
];

/// The first SoftHSM2 module found.
pub fn softhsm_module() -> Option<PathBuf> {
    SOFTHSM_MODULES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// Writes a SoftHSM2 configuration keeping tokens in `dir/tokens`; returns its path.
pub fn write_softhsm_conf(dir: &Path) -> std::io::Result<PathBuf> {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens)?;
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.display()
        ),
    )?;
    Ok(conf)
}

/// What to create.
#[derive(Debug, Clone)]
pub struct DevTokenSpec {
    /// PKCS#11 module.
    pub module: PathBuf,
    /// Token label.
    pub label: String,
    /// User PIN.
    pub pin: String,
    /// CA certificate (PEM) that issues the regional certificates.
    pub ca_cert: PathBuf,
    /// Its key (PEM).
    pub ca_key: PathBuf,
    /// Region code for the CNs (`A1#<code>#…`, `S1#<code>#…`).
    pub region_code: String,
    /// Folder for the certificate files and the PIN file.
    pub out_dir: PathBuf,
}

/// Files written by [`create`].
#[derive(Debug, Clone)]
pub struct DevTokenFiles {
    /// Authentication certificate (PEM).
    pub auth_cert: PathBuf,
    /// Signature certificate (PEM).
    pub signature_cert: PathBuf,
    /// User PIN (mode 0600).
    pub pin_file: PathBuf,
}

/// The public half of a token key, for rcgen.
struct TokenPublicKey(Vec<u8>);

impl PublicKeyData for TokenPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_RSA_SHA256
    }
}

/// Creates the token, its two keys (ids `01` authentication, `02` signature) and certificates.
pub fn create(spec: &DevTokenSpec) -> anyhow::Result<DevTokenFiles> {
    std::fs::create_dir_all(&spec.out_dir)?;
    let pin = SecretString::from(spec.pin.clone());
    let so_pin = SecretString::from(format!("so-{}", spec.pin));
    init_token(&spec.module, &spec.label, &so_pin, &pin)?;
    let token = Arc::new(Token::open(&spec.module, &spec.label, pin, 1)?);
    let ca_key = KeyPair::from_pem(&std::fs::read_to_string(&spec.ca_key)?)?;
    let issuer = Issuer::from_ca_cert_pem(&std::fs::read_to_string(&spec.ca_cert)?, ca_key)?;
    let r = &spec.region_code;
    let mut files = Vec::new();
    for (id, label, cn, name) in [
        (
            1u8,
            "authentication",
            format!("A1#{r}#80017210727FSEMW"),
            "region-auth-hsm.pem",
        ),
        (
            2u8,
            "signature",
            format!("S1#{r}#80017210727FSEMW"),
            "region-sig-hsm.pem",
        ),
    ] {
        let public = generate_rsa_key_pair(&token, &[id], label, false)?;
        let mut p = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        dn.push(DnType::OrganizationName, "FSE middleware dev PKI");
        p.distinguished_name = dn;
        let now = time::OffsetDateTime::now_utc();
        p.not_before = now - time::Duration::days(1);
        p.not_after = now + time::Duration::days(365);
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = p.signed_by(&TokenPublicKey(public), &issuer)?;
        let path = spec.out_dir.join(name);
        std::fs::write(&path, cert.pem())?;
        let parsed = Certificate::from_der(cert.der().clone())?;
        store_certificate(&token, &[id], label, &parsed)?;
        files.push(path);
    }
    let pin_file = spec.out_dir.join("pin");
    std::fs::write(&pin_file, &spec.pin)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(DevTokenFiles {
        auth_cert: files[0].clone(),
        signature_cert: files[1].clone(),
        pin_file,
    })
}
