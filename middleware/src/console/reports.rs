//! Reports: why the national gateway refused documents, by ASL, producer, document type
//! and month ("why were ASL Bari's lab reports rejected this month?"); and the optional
//! public page with aggregate volumes only.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::{Query, State};
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;
use time::OffsetDateTime;

use super::auth::Session;
use super::html::{bar_chart, esc, filled as keep, page, select, table};
use super::{html, problem};
use crate::db::Db;
use crate::db::console::RejectionCount;

/// Filters of the rejection report.
#[derive(Debug, Default, Deserialize)]
pub struct ReportFilters {
    month: Option<String>,
    asl: Option<String>,
    producer: Option<String>,
    document_type: Option<String>,
}

/// Totals of `rows` by the key `by` picks, largest first.
fn totals(rows: &[&RejectionCount], by: impl Fn(&RejectionCount) -> &str) -> Vec<(String, i64)> {
    let mut m: BTreeMap<String, i64> = BTreeMap::new();
    for r in rows {
        *m.entry(by(r).to_string()).or_default() += r.count;
    }
    let mut v: Vec<(String, i64)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

fn distinct(rows: &[RejectionCount], by: impl Fn(&RejectionCount) -> &str) -> Vec<String> {
    let mut v: Vec<String> = rows.iter().map(|r| by(r).to_string()).collect();
    v.sort();
    v.dedup();
    v
}

/// The report's filters, each offering the values present.
fn report_filters(all: &[RejectionCount], f: &ReportFilters) -> String {
    let mut body = String::from("<form method=\"get\" class=\"filters\">");
    body.push_str(&select(
        "month",
        "Mese",
        &distinct(all, |r| &r.month),
        keep(&f.month),
    ));
    body.push_str(&select(
        "asl",
        "ASL",
        &distinct(all, |r| &r.asl),
        keep(&f.asl),
    ));
    body.push_str(&select(
        "producer",
        "Produttore",
        &distinct(all, |r| &r.producer),
        keep(&f.producer),
    ));
    body.push_str(&select(
        "document_type",
        "Tipo documento (LOINC)",
        &distinct(all, |r| &r.document_type),
        keep(&f.document_type),
    ));
    body.push_str("<button type=\"submit\">Filtra</button></form>");
    body
}

/// One bar chart per dimension (cause, ASL, producer, document type, month).
fn charts(chosen: &[&RejectionCount]) -> String {
    let mut body = String::new();
    for (title, bars) in [
        ("Per causa", totals(chosen, |r| &r.cause)),
        ("Per ASL", totals(chosen, |r| &r.asl)),
        ("Per produttore", totals(chosen, |r| &r.producer)),
        ("Per tipo documento", totals(chosen, |r| &r.document_type)),
        ("Per mese", {
            let mut m = totals(chosen, |r| &r.month);
            m.sort_by(|a, b| a.0.cmp(&b.0));
            m
        }),
    ] {
        let _ = write!(
            body,
            "<div class=\"card\">{}</div>",
            bar_chart(title, &bars)
        );
    }
    body
}

/// Every count of the chosen rows.
fn detail_table(chosen: &[&RejectionCount]) -> String {
    let rows: Vec<Vec<String>> = chosen
        .iter()
        .map(|r| {
            vec![
                esc(&r.month),
                esc(&r.asl),
                esc(&r.producer),
                esc(&r.document_type),
                esc(&r.cause),
                r.count.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "Mese",
            "ASL",
            "Produttore",
            "Tipo documento",
            "Causa",
            "Richieste",
        ],
        &rows,
    )
}

/// `GET /console/rejections`: the last twelve months.
pub async fn rejections(
    State(Db(pool)): State<Db>,
    session: Session,
    Query(f): Query<ReportFilters>,
) -> Response {
    let from = OffsetDateTime::now_utc() - time::Duration::days(366);
    let all = match crate::db::console::rejections(&pool, from).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "console: rejections");
            return problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(&session),
                "report non disponibile",
            );
        }
    };
    let chosen: Vec<&RejectionCount> = all
        .iter()
        .filter(|r| keep(&f.month).is_none_or(|m| r.month == m))
        .filter(|r| keep(&f.asl).is_none_or(|a| r.asl == a))
        .filter(|r| keep(&f.producer).is_none_or(|p| r.producer == p))
        .filter(|r| keep(&f.document_type).is_none_or(|d| r.document_type == d))
        .collect();
    let mut body = report_filters(&all, &f);
    let total: i64 = chosen.iter().map(|r| r.count).sum();
    let _ = write!(
        body,
        "<p>{total} richieste rifiutate dal gateway nazionale negli ultimi 12 mesi con questi filtri.</p><div class=\"cards\">"
    );
    body.push_str(&charts(&chosen));
    body.push_str("</div><h2>Dettaglio</h2>");
    body.push_str(&detail_table(&chosen));
    html(page(
        "Scarti del gateway nazionale",
        Some(&session),
        &body,
        None,
    ))
}

/// Whether the public page is served, and the regional profile it names.
#[derive(Debug, Clone)]
pub struct PublicPage {
    /// `console.public_page`.
    pub enabled: bool,
    /// The regional profile (`puglia`).
    pub profile: String,
}

/// `GET /public`: requests per month and operation, no identifier of any kind.
pub async fn public(State(Db(pool)): State<Db>, State(public): State<PublicPage>) -> Response {
    if !public.enabled {
        return problem(StatusCode::NOT_FOUND, None, "pagina non disponibile");
    }
    let from = OffsetDateTime::now_utc() - time::Duration::days(366);
    let volumes = match crate::db::console::volumes(&pool, from).await {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "public page");
            return problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "dati non disponibili",
            );
        }
    };
    let mut by_month: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut by_operation: BTreeMap<String, i64> = BTreeMap::new();
    for (month, operation, class, n) in &volumes {
        let e = by_month.entry(month.clone()).or_default();
        e.0 += n;
        if class == "2xx" {
            e.1 += n;
        }
        *by_operation.entry(operation.clone()).or_default() += n;
    }
    let rows: Vec<Vec<String>> = by_month
        .iter()
        .rev()
        .map(|(m, (all, ok))| vec![esc(m), all.to_string(), ok.to_string()])
        .collect();
    let mut body = format!(
        "<p>Volumi aggregati del middleware FSE regionale ({}), ultimi 12 mesi.</p>",
        esc(&public.profile)
    );
    body.push_str(&bar_chart(
        "Richieste per operazione",
        &by_operation.into_iter().collect::<Vec<_>>(),
    ));
    body.push_str(&table(&["Mese", "Richieste", "Accolte (2xx)"], &rows));
    html(page("Monitoraggio pubblico", None, &body, Some(300)))
}
