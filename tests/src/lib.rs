//! End-to-end harness: a real PostgreSQL cluster, the dev PKI, the gateway
//! simulator and the middleware, all in-process on `127.0.0.1:0`.
//!
//! # Layout
//! - [`pg`]: the throw-away cluster and one database per test (cloned from a migrated template).
//! - [`process`]: the middleware as a child process (crash tests).
//! - [`producer_args`]: the producer credentials the load generators take on the command line.
//! - [`stack`]: [`stack::TestStack`], a simulator plus a middleware wired together.
//! - [`xds`]: XDS.b messages written as Italian senders write them.

pub mod pg;
pub mod process;
pub mod producer_args;
pub mod soap;
pub mod stack;
pub mod xds;

/// Folder of the shared reference data (`../shared` beside the repository).
pub fn shared_dir() -> std::path::PathBuf {
    match std::env::var_os("FSEMW_SHARED") {
        Some(d) => d.into(),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    }
}

/// Reads a file of `shared/testdata/`.
pub fn testdata(rel: &str) -> Vec<u8> {
    let p = shared_dir().join("testdata").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A TLS client that always presents the same certified key (whatever it is backed by).
#[derive(Debug)]
pub struct FixedClientCert(pub std::sync::Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for FixedClientCert {
    fn resolve(
        &self,
        _: &[&[u8]],
        _: &[rustls::SignatureScheme],
    ) -> Option<std::sync::Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
    fn has_certs(&self) -> bool {
        true
    }
}

/// The virtual environment with the Python tools of the tests (zeep, schemathesis,
/// kubernetes-validate):
/// `FSEMW_PY_TOOLS` (made by `ops/test.sh`), else one made under `target/` on first use.
pub fn py_tools() -> std::path::PathBuf {
    use std::process::Command;
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    if let Some(p) = std::env::var_os("FSEMW_PY_TOOLS") {
        return p.into();
    }
    // Tests of one process share the venv: one makes it, the others wait.
    let _making = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    let venv = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/py-tools");
    let python = venv.join("bin/python");
    if !python.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3");
        assert!(ok.success(), "python3 -m venv failed");
    }
    let ready = Command::new(&python)
        .args(["-c", "import zeep, schemathesis, kubernetes_validate"])
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        let ok = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "zeep==4.3.3",
                "schemathesis==4.32.5",
                "kubernetes-validate==1.37.0",
            ])
            .status()
            .expect("pip");
        assert!(ok.success(), "pip install of the Python test tools failed");
    }
    venv
}

/// The folder with playwright-core for the console's browser test: `FSEMW_NODE_TOOLS`
/// (made by `ops/test.sh`), else one made under `target/` with npm on first use.
pub fn node_tools() -> std::path::PathBuf {
    use std::process::Command;
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    if let Some(p) = std::env::var_os("FSEMW_NODE_TOOLS") {
        return p.into();
    }
    let _making = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/node-tools");
    if !dir.join("node_modules/playwright-core/index.mjs").exists() {
        std::fs::create_dir_all(&dir).expect("node tools folder");
        let ok = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .arg(format!("playwright-core@{PLAYWRIGHT_CORE_VERSION}"))
            .status()
            .expect("npm (Debian package npm; ops/test.sh installs it)");
        assert!(ok.success(), "npm install playwright-core failed");
    }
    dir
}

/// The playwright-core release the console test drives Chromium with.
pub const PLAYWRIGHT_CORE_VERSION: &str = "1.57.0";

/// What a finished command printed, standard output then standard error.
pub fn printed(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
