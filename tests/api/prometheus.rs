//! Prometheus against the live middleware: `promtool check metrics` accepts `/metrics`,
//! `promtool` checks and unit-tests the alert rules, and a real Prometheus scrapes the
//! admin listener, evaluates every rule on the scraped series, and raises the gateway
//! alert when the simulator is down. Needs Debian's `prometheus` (ops/test.sh installs it).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::stack::{StackOptions, TestStack};
use serde_json::{Value, json};

use crate::{LAB_OK, pdf, read, validate};

fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ops/prometheus")
}

fn promtool(args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; ops/test.sh installs it)");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (out.status.success(), integration_tests::printed(&out))
}

/// A Prometheus server, stopped when dropped.
struct Prometheus {
    child: Child,
    url: String,
    _dir: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_prometheus(target: &str) -> Prometheus {
    let dir = std::env::temp_dir().join(format!("fsemw-prom-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: fsemw\n    static_configs:\n      - targets: ['{target}']\n",
        rules_dir().join("alerts.yml").display()
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .expect("prometheus (Debian package prometheus; ops/test.sh installs it)");
    Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

async fn api(prom: &Prometheus, path: &str) -> Option<Value> {
    let r = reqwest::get(format!("{}/api/v1/{path}", prom.url))
        .await
        .ok()?;
    r.json::<Value>().await.ok().map(|v| v["data"].clone())
}

/// Polls `check` every 250 ms for up to 60 s.
async fn eventually<F, Fut>(what: &str, mut check: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[test]
fn alert_rules_pass_promtool() {
    let dir = rules_dir();
    let (ok, out) = promtool(
        &["check", "rules", dir.join("alerts.yml").to_str().unwrap()],
        None,
    );
    assert!(ok && out.contains("SUCCESS: 12 rules found"), "{out}");
    let (ok, out) = promtool(
        &[
            "test",
            "rules",
            dir.join("alerts_test.yml").to_str().unwrap(),
        ],
        None,
    );
    assert!(ok && out.contains("SUCCESS"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_and_evaluates_the_alerts() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    // Traffic of every kind: accepted, refused by the gateway, unauthenticated.
    let lab = pdf(LAB_OK);
    assert_eq!(read(validate(&stack, &lab).await).await.0, 201);
    let (s, _, _) = crate::send_read(
        &stack,
        reqwest::Method::POST,
        "/documents/validation",
        dev_tools::dev_jwt::JwtOperation::Validation,
        &lab,
        crate::VALIDATION_BODY,
        json!({"purpose_of_use": "NOT_A_PURPOSE"}),
    )
    .await;
    assert_eq!(s, 403);
    let r = stack
        .client(Some("producer-unregistered"))
        .post(format!("{}/documents/validation", stack.mw_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let metrics = stack.metrics().await;
    let (ok, out) = promtool(&["check", "metrics"], Some(&metrics));
    assert!(ok, "promtool check metrics: {out}\n{metrics}");
    for series in [
        "fsemw_requests_total{operation=\"validation\",profile=\"puglia\",status=\"201\",status_class=\"2xx\"} 1",
        "fsemw_gateway_responses_total{operation=\"validation\",outcome=\"/msg/jwt-validation\"} 1",
        "fsemw_rejections_total{asl=\"aslba\",cause=\"/msg/jwt-validation\",document_type=\"11502-2\"} 1",
        "fsemw_producer_refusals_total{reason=\"unregistered\"} 1",
        "fsemw_db_pool_connections{state=\"max\"} 8",
        "fsemw_outbox_oldest_age_seconds 0",
    ] {
        assert!(metrics.contains(series), "{series}\n{metrics}");
    }

    let target = stack.admin_url.trim_start_matches("http://").to_string();
    let prom = start_prometheus(&target);
    eventually("the scrape target up", || async {
        let targets = api(&prom, "targets").await?;
        (targets["activeTargets"][0]["health"] == "up").then_some(targets)
    })
    .await;
    let scraped = eventually("scraped series", || async {
        let q = api(&prom, "query?query=fsemw_requests_total").await?;
        (!q["result"].as_array()?.is_empty()).then_some(q)
    })
    .await;
    assert_eq!(scraped["result"][0]["metric"]["profile"], "puglia");
    // Every rule evaluated without error on the real series.
    let groups = eventually("every rule evaluated", || async {
        let rules = api(&prom, "rules").await?;
        let all: Vec<Value> = rules["groups"][0]["rules"].as_array()?.clone();
        (all.len() == 12
            && all
                .iter()
                .all(|r| r["health"] == "ok" && r["lastEvaluation"] != "0001-01-01T00:00:00Z"))
        .then_some(rules)
    })
    .await;
    assert_eq!(groups["groups"][0]["name"], "fsemw");

    // Every query of the Grafana dashboard runs on the real series (Grafana's variables
    // given values), and every metric it and the alerts name is documented.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(rules_dir().join("../grafana/fsemw-overview.json")).unwrap(),
    )
    .unwrap();
    let docs = std::fs::read_to_string(rules_dir().join("../../docs/operations.md")).unwrap();
    let alerts = std::fs::read_to_string(rules_dir().join("alerts.yml")).unwrap();
    let mut queries = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "1m")
                .replace("$__range", "1h")
                .replace("$profile", ".*");
            let encoded: String = expr
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            let answer: Value = reqwest::get(format!("{}/api/v1/query?query={encoded}", prom.url))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(answer["status"], "success", "{expr}: {answer}");
            queries += 1;
        }
    }
    assert!(queries >= 25, "{queries} dashboard queries");
    let text = format!("{dashboard}{alerts}");
    for name in text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("fsemw_"))
    {
        let base = name.trim_end_matches("_bucket");
        assert!(
            docs.contains(&format!("`{base}`")),
            "{base} is not in docs/operations.md"
        );
    }

    // The gateway goes down: failures without answers raise FsemwGatewayUnreachable.
    stack.fault(json!({"mode": "down"})).await;
    let started = Instant::now();
    let alert = eventually("FsemwGatewayUnreachable pending", || async {
        // Keep failing while Prometheus collects two samples of the rate.
        let _ = validate(&stack, &lab).await;
        let alerts = api(&prom, "alerts").await?;
        alerts["alerts"]
            .as_array()?
            .iter()
            .find(|a| a["labels"]["alertname"] == "FsemwGatewayUnreachable")
            .cloned()
    })
    .await;
    assert_eq!(alert["state"], "pending", "{alert}");
    assert_eq!(alert["labels"]["severity"], "critical");
    assert!(started.elapsed() < Duration::from_secs(60));
    stack.fault(json!({"mode": "none"})).await;
}
