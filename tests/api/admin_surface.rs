//! The admin listener as an attacker on the operations network meets it: only health,
//! readiness and metrics answer without a credential; the admin API wants a bearer token
//! whose role allows the action; the console's sign-in is throttled and its pages forbid
//! framing, scripts and outside resources; behind TLS (production) its cookie is `Secure`.

use integration_tests::stack::{StackOptions, TestStack, admin_token};
use middleware::config::Environment;
use reqwest::{Method, StatusCode};

use crate::{LAB_OK, pdf, validate};

async fn with_token(
    stack: &TestStack,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> reqwest::Response {
    let mut r = reqwest::Client::new().request(method, format!("{}{path}", stack.admin_url));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_needs_a_token_with_the_right_role() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let v = validate(&stack, &pdf(LAB_OK)).await;
    assert_eq!(v.status(), 201);
    let tx = v.headers()["x-transaction-id"]
        .to_str()
        .unwrap()
        .to_string();
    for open in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(
            with_token(&stack, Method::GET, open, None).await.status(),
            200,
            "{open}"
        );
    }
    let protected = [
        (Method::GET, "/admin/transactions?cf=RSSMRA75C03F839K"),
        (Method::GET, "/openapi.yaml"),
        (Method::POST, "/admin/keys/reload"),
        (Method::POST, "/admin/crls/reload"),
    ];
    for (method, path) in &protected {
        for token in [None, Some("not-a-token"), Some("")] {
            let r = with_token(&stack, method.clone(), path, token).await;
            assert_eq!(
                r.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} {token:?}"
            );
            assert!(
                r.headers()["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .starts_with("Bearer")
            );
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["type"], "mw/unauthorized", "{body}");
        }
    }
    // monitor: searches, without bodies; no reloads.
    let monitor = Some(admin_token("monitor"));
    let r = with_token(
        &stack,
        Method::GET,
        &format!("/admin/transactions?id={tx}"),
        monitor,
    )
    .await;
    assert_eq!(r.status(), 200);
    let rows: serde_json::Value = r.json().await.unwrap();
    assert!(
        rows["transactions"][0].get("request_body").is_none(),
        "{rows}"
    );
    let bodies = format!("/admin/transactions?id={tx}&bodies=true");
    assert_eq!(
        with_token(&stack, Method::GET, &bodies, monitor)
            .await
            .status(),
        403
    );
    for (method, path) in &protected[2..] {
        assert_eq!(
            with_token(&stack, method.clone(), path, monitor)
                .await
                .status(),
            403
        );
    }
    // helpdesk: the stored bodies; still no reloads.
    let helpdesk = Some(admin_token("helpdesk"));
    let rows: serde_json::Value = with_token(&stack, Method::GET, &bodies, helpdesk)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        rows["transactions"][0]["request_body"]
            .as_str()
            .unwrap()
            .contains("VALIDATION"),
        "{rows}"
    );
    assert_eq!(
        with_token(&stack, Method::POST, "/admin/keys/reload", helpdesk)
            .await
            .status(),
        403
    );
    // operator: reloads.
    let operator = Some(admin_token("operator"));
    for (method, path) in &protected[2..] {
        assert_eq!(
            with_token(&stack, method.clone(), path, operator)
                .await
                .status(),
            200,
            "{path}"
        );
    }
    let metrics = stack.metrics().await;
    // 4 paths × 3 bad credentials; 1 + 2 + 1 role refusals.
    assert!(
        metrics.contains("fsemw_admin_refusals_total{reason=\"credential\"} 12"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fsemw_admin_refusals_total{reason=\"role\"} 4"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sign_in_is_throttled_and_its_pages_are_locked_down() {
    let stack = TestStack::spawn(StackOptions {
        environment: Environment::Production,
        ..Default::default()
    })
    .await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client
        .get(format!("{}/console/login", stack.admin_url))
        .send()
        .await
        .unwrap();
    let h = page.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let sign_in = |user: &'static str, password: &'static str| {
        let client = client.clone();
        let url = format!("{}/console/login", stack.admin_url);
        async move {
            client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("user={user}&password={password}"))
                .send()
                .await
                .unwrap()
        }
    };
    // Production, reached through TLS: the session cookie is Secure.
    let ok = sign_in("sportello", "sportello-password").await;
    assert_eq!(ok.status(), 303);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    // Five wrong passwords, then even the right one waits, with Retry-After.
    for _ in 0..middleware::console::auth::FREE_FAILURES {
        assert_eq!(sign_in("sportello", "guess").await.status(), 401);
    }
    let throttled = sign_in("sportello", "sportello-password").await;
    assert_eq!(throttled.status(), 429);
    assert!(
        throttled.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let metrics = stack.metrics().await;
    assert!(
        metrics.contains("fsemw_admin_refusals_total{reason=\"sign_in\"} 5"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fsemw_admin_refusals_total{reason=\"throttled\"} 1"),
        "{metrics}"
    );
}
