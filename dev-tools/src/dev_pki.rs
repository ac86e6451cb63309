//! A throw-away PKI for the demo and the tests.
//!
//! Two CAs, as in real life: the *national* CA (it issues the gateway's server
//! certificate and the region's certificate pair, as central provisioning does)
//! and a *regional* CA (it issues producer certificates and the middleware's
//! server certificate). Extra certificates exercise the refusal paths: expired,
//! unknown CA, CN outside the regional conventions, revoked (listed in the regional CA's
//! revocation list `regional-ca.crl.pem`). For the legacy SOAP services: the
//! identity provider that signs SAML assertions (`saml-idp`, issued by `saml-ca`, with an
//! expired and a revoked twin, `saml-ca.crl.pem`) and a smart-card CA (`cns-ca`) with the
//! operators' cards (CN `<fiscal code>/<serial>.<hash>`; a revoked one in `cns-ca.crl.pem`
//! and an expired one).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256, RevocationReason, RevokedCertParams, RsaKeySize,
    SerialNumber,
};
use time::{Duration, OffsetDateTime};

/// Fiscal code of the demo operator's smart card (`operator`).
pub const OPERATOR_CF: &str = "RSSMRA22A01A399Z";

/// CNs used by the generated PKI.
#[derive(Debug, Clone)]
pub struct PkiNames {
    /// Region code, e.g. `160`.
    pub region_code: String,
    /// CN of the demo producer (Puglia convention `<PIVA>.<domain>.it`).
    pub producer_cn: String,
}

impl Default for PkiNames {
    fn default() -> Self {
        Self {
            region_code: "160".into(),
            producer_cn: "01234567890.labdemo.it".into(),
        }
    }
}

/// Paths of every generated file (`<name>.pem` + `<name>.key`).
#[derive(Debug, Clone)]
pub struct DevPki {
    /// Output folder.
    pub dir: PathBuf,
}

// === impl DevPki ===

impl DevPki {
    /// The certificate file of `name`.
    pub fn cert(&self, name: &str) -> String {
        self.dir.join(format!("{name}.pem")).display().to_string()
    }

    /// The key file of `name`.
    pub fn key(&self, name: &str) -> String {
        self.dir.join(format!("{name}.key")).display().to_string()
    }
}

struct Ca {
    params: CertificateParams,
    key: KeyPair,
}

fn params(cn: &str, sans: &[&str], days_valid: i64) -> Result<CertificateParams, rcgen::Error> {
    let mut p = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, "FSE middleware dev PKI");
    p.distinguished_name = dn;
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::days(1);
    p.not_after = now + Duration::days(days_valid);
    Ok(p)
}

fn write(dir: &Path, name: &str, cert_pem: &str, key: &KeyPair) -> std::io::Result<()> {
    std::fs::write(dir.join(format!("{name}.pem")), cert_pem)?;
    let key_path = dir.join(format!("{name}.key"));
    std::fs::write(&key_path, key.serialize_pem())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn new_ca(dir: &Path, name: &str, cn: &str) -> anyhow::Result<Ca> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut p = params(cn, &[], 3650)?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = p.self_signed(&key)?;
    write(dir, name, &cert.pem(), &key)?;
    Ok(Ca { params: p, key })
}

/// Kinds of leaf certificate.
#[derive(Clone, Copy)]
enum Leaf {
    Server,
    Client,
    Signature,
}

fn issue(
    dir: &Path,
    ca: &Ca,
    name: &str,
    cn: &str,
    leaf: Leaf,
    days: i64,
) -> anyhow::Result<SerialNumber> {
    let (key, sans): (KeyPair, &[&str]) = match leaf {
        Leaf::Server => (
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?,
            &["localhost", "127.0.0.1"],
        ),
        _ => (
            KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048)?,
            &[],
        ),
    };
    let mut p = params(cn, sans, days)?;
    if days < 0 {
        p.not_before = OffsetDateTime::now_utc() - Duration::days(30);
    }
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = match leaf {
        Leaf::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
        Leaf::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
        Leaf::Signature => {
            p.key_usages.push(KeyUsagePurpose::ContentCommitment);
            vec![ExtendedKeyUsagePurpose::ClientAuth]
        }
    };
    let serial = SerialNumber::from_slice(&rand_serial());
    p.serial_number = Some(serial.clone());
    let issuer = Issuer::from_params(&ca.params, &ca.key);
    let cert = p.signed_by(&key, &issuer)?;
    write(dir, name, &cert.pem(), &key)?;
    Ok(serial)
}

/// A positive 16-byte serial number.
fn rand_serial() -> [u8; 16] {
    let mut bytes = uuid::Uuid::new_v4().into_bytes();
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    bytes
}

/// Writes `<name>.crl.pem`: the CA's revocation list naming `revoked`, valid for a week.
pub fn write_crl(
    dir: &Path,
    name: &str,
    ca: &Issuer<'_, impl rcgen::SigningKey>,
    revoked: &[SerialNumber],
) -> anyhow::Result<()> {
    let now = OffsetDateTime::now_utc();
    let crl = CertificateRevocationListParams {
        this_update: now - Duration::hours(1),
        next_update: now + Duration::days(7),
        crl_number: SerialNumber::from(now.unix_timestamp() as u64),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|serial| RevokedCertParams {
                serial_number: serial.clone(),
                revocation_time: now - Duration::hours(1),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(ca)?;
    std::fs::write(dir.join(format!("{name}.crl.pem")), crl.pem()?)?;
    Ok(())
}

/// Generates the whole dev PKI into `dir` (created if missing).
pub fn generate(dir: &Path, names: &PkiNames) -> anyhow::Result<DevPki> {
    std::fs::create_dir_all(dir)?;
    let r = &names.region_code;
    let national = new_ca(dir, "national-ca", "Dev National FSE CA")?;
    let regional = new_ca(dir, "regional-ca", &format!("Dev Regional CA {r}"))?;
    let stranger = new_ca(dir, "stranger-ca", "Unknown CA")?;
    gateway_and_region(dir, &national, &regional, r)?;
    producers(dir, &national, &regional, &stranger, names)?;
    saml_idps(dir)?;
    smart_cards(dir, &stranger)?;
    let bundle = [
        std::fs::read_to_string(dir.join("national-ca.pem"))?,
        std::fs::read_to_string(dir.join("regional-ca.pem"))?,
    ]
    .concat();
    std::fs::write(dir.join("ca-bundle.pem"), bundle)?;
    Ok(DevPki {
        dir: dir.to_path_buf(),
    })
}

/// The simulator's server certificate and the client certificate it pushes status with,
/// the region's pair (national CA) and the middleware's server certificate (regional CA).
fn gateway_and_region(dir: &Path, national: &Ca, regional: &Ca, r: &str) -> anyhow::Result<()> {
    let leaves = [
        (
            national,
            "gtw-sim",
            "gateway-sim.localhost".to_string(),
            Leaf::Server,
        ),
        (
            national,
            "gtw-notifier",
            "notifier.gateway-sim.localhost".to_string(),
            Leaf::Client,
        ),
        (
            national,
            "region-auth",
            format!("A1#{r}#80017210727FSEMW"),
            Leaf::Client,
        ),
        (
            national,
            "region-sig",
            format!("S1#{r}#80017210727FSEMW"),
            Leaf::Signature,
        ),
        (
            regional,
            "mw-server",
            "fsemw.localhost".to_string(),
            Leaf::Server,
        ),
    ];
    for (ca, name, cn, leaf) in leaves {
        issue(dir, ca, name, &cn, leaf, 365)?;
    }
    Ok(())
}

/// The producers: the demo one (TLS and national signature), and the refused ones
/// (expired, unregistered, revoked — with the regional CA's list —, bad CN, unknown CA).
fn producers(
    dir: &Path,
    national: &Ca,
    regional: &Ca,
    stranger: &Ca,
    names: &PkiNames,
) -> anyhow::Result<()> {
    let r = &names.region_code;
    let leaves = [
        (
            regional,
            "producer",
            names.producer_cn.clone(),
            Leaf::Client,
            365,
        ),
        (
            national,
            "producer-national-sig",
            format!("S1#{r}#01234567890LABDEMO"),
            Leaf::Signature,
            365,
        ),
        (
            regional,
            "producer-expired",
            "09876543210.scaduto.it".into(),
            Leaf::Client,
            -1,
        ),
        (
            regional,
            "producer-unregistered",
            "11111111111.ignoto.it".into(),
            Leaf::Client,
            365,
        ),
        (
            regional,
            "producer-badcn",
            "laboratorio-senza-piva".into(),
            Leaf::Client,
            365,
        ),
        (
            stranger,
            "producer-stranger",
            "22222222222.estraneo.it".into(),
            Leaf::Client,
            365,
        ),
    ];
    for (ca, name, cn, leaf, days) in leaves {
        issue(dir, ca, name, &cn, leaf, days)?;
    }
    let revoked = issue(
        dir,
        regional,
        "producer-revoked",
        "33333333333.revocato.it",
        Leaf::Client,
        365,
    )?;
    write_crl(
        dir,
        "regional-ca",
        &Issuer::from_params(&regional.params, &regional.key),
        &[revoked],
    )
}

/// The SAML identity provider's CA and signers (valid, expired, revoked).
fn saml_idps(dir: &Path) -> anyhow::Result<()> {
    let saml = new_ca(dir, "saml-ca", "Dev SAML IdP CA")?;
    issue(dir, &saml, "saml-idp", "NIGR", Leaf::Signature, 365)?;
    issue(dir, &saml, "saml-idp-expired", "NIGR", Leaf::Signature, -1)?;
    let revoked = issue(dir, &saml, "saml-idp-revoked", "NIGR", Leaf::Signature, 365)?;
    write_crl(
        dir,
        "saml-ca",
        &Issuer::from_params(&saml.params, &saml.key),
        &[revoked],
    )
}

/// The operators' smart cards (CNS): valid, revoked, expired, another operator's, and one
/// from an unknown CA.
fn smart_cards(dir: &Path, stranger: &Ca) -> anyhow::Result<()> {
    let cns = new_ca(dir, "cns-ca", "Dev CNS CA")?;
    let cards = [
        (
            &cns,
            "operator",
            format!("{OPERATOR_CF}/7420070100000101.5c3f2a1e9b7d4c6a8e0f1b2d3c4a5e6f"),
            365,
        ),
        (
            &cns,
            "operator-expired",
            format!("{OPERATOR_CF}/7420070100000404.2a3b4c5d6e7f80910a1b2c3d4e5f6071"),
            -1,
        ),
        (
            &cns,
            "operator-other",
            "VRDGPP70A01A662X/7420070100000202.0a1b2c3d4e5f60718293a4b5c6d7e8f9".to_string(),
            365,
        ),
        (
            stranger,
            "operator-stranger",
            format!("{OPERATOR_CF}/9999.ffff"),
            365,
        ),
    ];
    for (ca, name, cn, days) in cards {
        issue(dir, ca, name, &cn, Leaf::Signature, days)?;
    }
    let revoked = issue(
        dir,
        &cns,
        "operator-revoked",
        &format!("{OPERATOR_CF}/7420070100000303.1f2e3d4c5b6a79880f1e2d3c4b5a6978"),
        Leaf::Signature,
        365,
    )?;
    write_crl(
        dir,
        "cns-ca",
        &Issuer::from_params(&cns.params, &cns.key),
        &[revoked],
    )
}
