//! Throw-away PostgreSQL from the system's binaries.
//!
//! `ops/test.sh` starts one socket-only cluster with a migrated `mw_template`
//! database and exports `MW_TEST_PGHOST`; without it (plain `cargo test`) the
//! harness starts a private cluster for the test process.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

static CLUSTER: OnceLock<String> = OnceLock::new();
static TEMPLATE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

fn pg_bindir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs.pop()
        .expect("PostgreSQL server binaries (Debian package postgresql) are required")
}

fn as_postgres(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // initdb refuses root; CI runs as root.
    if is_root() {
        let uid = nix_id("-u");
        let gid = nix_id("-g");
        cmd.uid(uid).gid(gid);
    }
    cmd
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

fn nix_id(flag: &str) -> u32 {
    let out = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .expect("id postgres");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("postgres user exists")
}

/// Creates `dir` (owned by `postgres` when running as root) and a throw-away cluster in
/// `dir/data`: trust authentication, user `app`.
fn initdb(bin: &std::path::Path, dir: &std::path::Path) {
    std::fs::create_dir_all(dir).expect("temp dir");
    if is_root() {
        Command::new("chown")
            .args(["postgres:", &dir.display().to_string()])
            .status()
            .expect("chown");
    }
    let ok = as_postgres(
        Command::new(bin.join("initdb"))
            .args(["-A", "trust", "-U", "app", "-N", "-D"])
            .arg(dir.join("data")),
    )
    .output()
    .expect("initdb")
    .status
    .success();
    assert!(ok, "initdb failed");
}

/// Starts the cluster of `dir` (log in `dir/log`) with the server options `opts`.
fn pg_ctl_start(bin: &std::path::Path, dir: &std::path::Path, opts: &str) {
    let log = dir.join("log");
    let out = as_postgres(
        Command::new(bin.join("pg_ctl"))
            .args(["-w", "-D"])
            .arg(dir.join("data"))
            .args(["-l", &log.display().to_string(), "-o", opts, "start"]),
    )
    .output()
    .expect("pg_ctl");
    assert!(
        out.status.success(),
        "pg_ctl start: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

/// The socket folder of the cluster, starting a private one when needed.
pub fn cluster_host() -> String {
    CLUSTER
        .get_or_init(|| {
            if let Ok(h) = std::env::var("MW_TEST_PGHOST") {
                return h;
            }
            let dir = std::env::temp_dir().join(format!("fsemw-pg-{}", std::process::id()));
            let bin = pg_bindir();
            initdb(&bin, &dir);
            let opts = format!(
                "-c listen_addresses='' -c unix_socket_directories={} -c fsync=off -c max_connections=300",
                dir.display()
            );
            pg_ctl_start(&bin, &dir, &opts);
            reap_when_done(&bin, &dir);
            dir.display().to_string()
        })
        .clone()
}

/// A private cluster outlives nothing: a detached shell stops it and removes its
/// folder once this test process has exited (statics are never dropped).
fn reap_when_done(bin: &std::path::Path, dir: &std::path::Path) {
    let pg_ctl = bin.join("pg_ctl").display().to_string();
    let as_pg = if is_root() {
        "runuser -u postgres -- "
    } else {
        ""
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {as_pg}{pg_ctl} -D {d}/data -m immediate stop >/dev/null 2>&1; rm -rf {d}",
        pid = std::process::id(),
        d = dir.display()
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

async fn admin_client(host: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(
        &format!("host={host} user=app dbname=postgres"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("connect to the test cluster");
    tokio::spawn(conn);
    client
}

/// Creates a fresh database cloned from the migrated template; returns its connection string.
pub async fn fresh_database() -> String {
    let host = cluster_host();
    TEMPLATE
        .get_or_init(|| async {
            let admin = admin_client(&host).await;
            let exists = admin
                .query_opt(
                    "SELECT 1 FROM pg_database WHERE datname = 'mw_template'",
                    &[],
                )
                .await
                .expect("query");
            if exists.is_none() {
                admin
                    .batch_execute("CREATE DATABASE mw_template")
                    .await
                    .expect("create template");
                let cfg = middleware::config::DatabaseConfig {
                    url: format!("host={host} user=app dbname=mw_template"),
                    password: None,
                    pool_size: 1,
                    sslmode: Default::default(),
                    sslrootcert: None,
                };
                let pool = middleware::db::pool(&cfg).expect("pool");
                middleware::db::migrate(&pool)
                    .await
                    .expect("migrate template");
                pool.close();
            }
        })
        .await;
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let admin = admin_client(&host).await;
    admin
        .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE mw_template"))
        .await
        .expect("clone template");
    format!("host={host} user=app dbname={name}")
}

/// A throw-away cluster that speaks TLS on loopback TCP and refuses clients without it
/// (`hostnossl … reject`), for the `database.sslmode = "verify-full"` tests.
pub struct TlsCluster {
    dir: PathBuf,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
}

impl TlsCluster {
    /// Starts one with this server certificate (PEM) and key.
    pub fn start(cert_pem: &str, key_pem: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("fsemw-pg-tls-{}", uuid::Uuid::new_v4().simple()));
        let bin = pg_bindir();
        let data = dir.join("data");
        initdb(&bin, &dir);
        let write = |name: &str, text: &str| {
            use std::os::unix::fs::PermissionsExt;
            let p = data.join(name);
            std::fs::write(&p, text).expect("write");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
            if is_root() {
                Command::new("chown")
                    .args(["postgres:", &p.display().to_string()])
                    .status()
                    .expect("chown");
            }
        };
        write("server.crt", cert_pem);
        write("server.key", key_pem);
        write(
            "pg_hba.conf",
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={} -c fsync=off -c ssl=on -c ssl_min_protocol_version=TLSv1.2",
            dir.display()
        );
        pg_ctl_start(&bin, &dir, &opts);
        Self { dir, port }
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let _ = as_postgres(
            Command::new(pg_bindir().join("pg_ctl"))
                .args(["-D"])
                .arg(self.dir.join("data"))
                .args(["-m", "immediate", "stop"]),
        )
        .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
