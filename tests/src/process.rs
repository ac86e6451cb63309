//! The middleware as a separate `fsemw serve` process, for tests that kill it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::stack::{HsmToken, TestStack, pki, shared_token};

/// The `fsemw` binary of this build, brought up to date once per test run (a stale binary
/// would test old code: `cargo test` builds the test crates, not the middleware's binary).
pub fn fsemw_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_fsemw).clone()
}

fn build_fsemw() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    // Same profile as this test binary (…/target/<profile>/deps/<test>).
    let profile = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent()?.file_name().map(|n| n.to_owned()))
        .unwrap_or_else(|| "debug".into());
    let bin = target.join(&profile).join("fsemw");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "-q", "-p", "middleware", "--bin", "fsemw"]);
    if profile == "release" {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("cargo build");
    assert!(status.success(), "building fsemw failed");
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A middleware process serving a test stack's simulator, on fixed ports.
#[derive(Debug)]
pub struct MwProcess {
    child: Option<Child>,
    config: PathBuf,
    log: PathBuf,
    /// Producer-facing base URL (`…/v1`).
    pub mw_url: String,
    /// Admin base URL.
    pub admin_url: String,
}

// === impl MwProcess ===

impl MwProcess {
    /// Writes the configuration (database `database_url`, the stack's simulator) and starts.
    pub async fn start(stack: &TestStack, database_url: &str, dir: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("process folder");
        let (port, admin) = (free_port(), free_port());
        let config = dir.join("fsemw.toml");
        std::fs::write(
            &config,
            config_text(stack, database_url, port, admin, shared_token()),
        )
        .expect("config");
        let mut p = Self {
            child: None,
            config,
            log: dir.join("fsemw.log"),
            mw_url: format!("https://localhost:{port}/v1"),
            admin_url: format!("http://127.0.0.1:{admin}"),
        };
        p.spawn().await;
        p
    }

    /// `fsemw check-config` on the configuration a process would get, changed by `edit`.
    pub fn check_config(
        stack: &TestStack,
        dir: &Path,
        edit: impl Fn(String) -> String,
    ) -> std::process::Output {
        std::fs::create_dir_all(dir).expect("folder");
        let config = dir.join("fsemw.toml");
        let text = config_text(
            stack,
            "host=/nonexistent",
            free_port(),
            free_port(),
            shared_token(),
        );
        std::fs::write(&config, edit(text)).expect("config");
        Command::new(fsemw_binary())
            .arg("--config")
            .arg(&config)
            .arg("check-config")
            .output()
            .expect("fsemw check-config")
    }

    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(fsemw_binary())
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("fsemw serve");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/healthz", self.admin_url)).await
                && r.status().is_success()
            {
                return;
            }
            if let Some(Some(status)) = self.child.as_mut().map(|c| c.try_wait().ok().flatten()) {
                panic!("fsemw exited with {status}: {}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "fsemw did not start: {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A fresh database, a process serving `stack`'s simulator on it (files in a new
    /// folder named after `purpose`), the demo producer registered, and a client of the
    /// database.
    pub async fn with_demo_producer(
        stack: &TestStack,
        purpose: &str,
    ) -> (Self, tokio_postgres::Client) {
        let database_url = crate::pg::fresh_database().await;
        let dir =
            std::env::temp_dir().join(format!("fsemw-{purpose}-{}", uuid::Uuid::new_v4().simple()));
        let mw = Self::start(stack, &database_url, &dir).await;
        let (db, conn) = tokio_postgres::connect(&database_url, tokio_postgres::NoTls)
            .await
            .expect("database");
        tokio::spawn(conn);
        db.execute(
            "INSERT INTO producers (cert_cn, application_id, application_vendor, application_version, role, organization) \
             VALUES ($1, 'LABDEMO', 'FSEMW DEMO', '1.0', 'producer', 'aslba')",
            &[&crate::stack::PRODUCER_CN],
        )
        .await
        .expect("demo producer");
        (mw, db)
    }

    /// SIGKILL: no shutdown of any kind.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits (up to `within`) for the process to exit; its exit status.
    pub async fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(s)) = child.try_wait() {
                return Some(s);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts again on the same ports and configuration.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    /// The folder of its configuration and log.
    pub fn folder(&self) -> PathBuf {
        self.config
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// What the process wrote.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for MwProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn config_text(
    stack: &TestStack,
    database_url: &str,
    port: u16,
    admin: u16,
    token: &HsmToken,
) -> String {
    let pki = pki();
    let sim_url = stack.sim_url.clone();
    format!(
        r#"[server]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:{admin}"
tls_cert = "{tls_cert}"
tls_key = "{tls_key}"
client_ca = "{client_ca}"
base_path = "/v1"
max_body_bytes = 5242880

[gateway]
base_url = "{sim_url}"
ca = "{gtw_ca}"
connect_timeout_ms = 1000
request_timeout_ms = 5000
certificate_case = 2

[keys]
backend = "pkcs11"

[keys.pkcs11]
module = "{module}"
token_label = "{label}"
pin_file = "{pin}"
auth_key_id = "01"
signature_key_id = "02"
sessions = 4

[database]
url = "{database_url}"
pool_size = 8

[audit]
cf_hmac_key = "test-key-of-the-integration-tests-0123456789"

[region]
name = "Puglia"
code = "160"
environment = "test"
cn_patterns = ['^[0-9]{{11}}\.[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.it$']
document_id_pattern = '^2\.16\.840\.1\.113883\.2\.9\.2\.160\.4\.4\^.+$'
repository_id_pattern = '^2\.16\.840\.1\.113883\.2\.9\.2\.160\.4\.5\.[0-9A-Za-z.]+$'

[outbox]
poll_ms = 100
backoff_base_ms = 100
backoff_max_ms = 1000
lease_secs = 5

[log]
format = "plain"
filter = "info"
"#,
        tls_cert = pki.cert("mw-server"),
        tls_key = pki.key("mw-server"),
        client_ca = pki.cert("regional-ca"),
        gtw_ca = pki.cert("national-ca"),
        module = token.module.display(),
        label = token.label,
        pin = token.files.pin_file.display(),
    )
}
