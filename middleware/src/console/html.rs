//! The console's HTML: one layout, escaping, tables and bar charts drawn as inline SVG.
//! No JavaScript and no external asset: the pages work in any browser, offline.

use std::fmt::Write;

use super::auth::Session;

/// A time as the console shows it (UTC).
pub fn when(t: time::OffsetDateTime) -> String {
    t.format(time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second]"
    ))
    .unwrap_or_default()
}

/// A form field's value, if the user filled it in.
pub fn filled(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Escapes text and attribute values.
pub fn esc(s: &str) -> String {
    soap_wsdl::write::escape(s)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f5f7fa}\
header{background:#0b3d62;color:#fff;padding:.6rem 1rem;display:flex;gap:1.2rem;align-items:center;flex-wrap:wrap}\
header a{color:#fff;text-decoration:none}header a:hover{text-decoration:underline}\
header .who{margin-left:auto;font-size:.9rem}main{padding:1rem}\
table{border-collapse:collapse;background:#fff;width:100%;font-size:.88rem}\
th,td{border:1px solid #d5dbe3;padding:.3rem .45rem;text-align:left;vertical-align:top}\
th{background:#e8edf3}tr:nth-child(even) td{background:#fafbfc}\
form.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:flex-end;background:#fff;padding:.7rem;border:1px solid #d5dbe3;margin-bottom:1rem}\
form.filters label{display:flex;flex-direction:column;font-size:.8rem}\
input,select,button{font:inherit;padding:.25rem .4rem}button{cursor:pointer}\
.ok{color:#16702e}.ko{color:#a11d1d}.warn{color:#8a5a00}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;background:#fff;padding:.8rem;border:1px solid #d5dbe3}\
dt{font-weight:600}dd{margin:0;word-break:break-all}pre{background:#fff;border:1px solid #d5dbe3;padding:.6rem;overflow:auto;max-height:24rem}\
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{background:#fff;border:1px solid #d5dbe3;padding:.8rem;min-width:22rem;flex:1}figure{margin:0}\
.button{display:inline-block;background:#0b3d62;color:#fff;padding:.35rem .8rem;text-decoration:none;border:0}";

/// A whole page; `session` shows the navigation and who is signed in.
pub fn page(title: &str, session: Option<&Session>, body: &str, refresh: Option<u32>) -> String {
    let mut out = String::with_capacity(body.len() + 4096);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"it\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{} — fsemw</title><style>{STYLE}</style>",
        esc(title)
    );
    if let Some(s) = refresh {
        let _ = write!(out, "<meta http-equiv=\"refresh\" content=\"{s}\">");
    }
    out.push_str("</head><body><header><strong>FSE middleware</strong>");
    if let Some(s) = session {
        let _ = write!(
            out,
            "<a href=\"/console/transactions\">Transazioni</a><a href=\"/console/rejections\">Scarti</a><a href=\"/console/outbox\">Coda e recupero</a><a href=\"/console/health\">Stato</a><span class=\"who\">{} ({}) <form method=\"post\" action=\"/console/logout\" style=\"display:inline\"><button type=\"submit\">Esci</button></form></span>",
            esc(&s.user),
            s.role.name()
        );
    }
    let _ = write!(
        out,
        "</header><main><h1>{}</h1>{body}</main></body></html>",
        esc(title)
    );
    out
}

/// A table: header cells, then rows of already-escaped HTML cells.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table><thead><tr>");
    for h in headers {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{c}</td>");
        }
        out.push_str("</tr>");
    }
    if rows.is_empty() {
        let _ = write!(
            out,
            "<tr><td colspan=\"{}\">Nessun risultato</td></tr>",
            headers.len()
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// A horizontal bar chart of `(label, value)` as inline SVG, with a text alternative.
pub fn bar_chart(title: &str, bars: &[(String, i64)]) -> String {
    let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let row = 22;
    let height = row * bars.len().max(1) + 10;
    let mut out = format!(
        "<figure><figcaption>{}</figcaption><svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 660 {height}\" style=\"width:100%;max-width:660px;height:auto\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(title),
        esc(title)
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = i * row + 5;
        let width = (*value as f64 / max as f64 * 380.0).round() as i64;
        let _ = write!(
            out,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text><rect x=\"240\" y=\"{y}\" width=\"{width}\" height=\"16\" fill=\"#2f6f9f\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{value}</text>",
            y + 13,
            esc(&truncate(label, 36)),
            245 + width,
            y + 13
        );
    }
    if bars.is_empty() {
        out.push_str("<text x=\"0\" y=\"18\" font-size=\"12\">Nessun dato</text>");
    }
    out.push_str("</svg></figure>");
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

/// A `<select>` with an empty choice and `options`, `current` selected.
pub fn select(name: &str, label: &str, options: &[String], current: Option<&str>) -> String {
    let mut out = format!(
        "<label>{}<select name=\"{name}\"><option value=\"\">(tutti)</option>",
        esc(label)
    );
    for o in options {
        let selected = if current == Some(o.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(out, "<option{selected}>{}</option>", esc(o));
    }
    out.push_str("</select></label>");
    out
}

/// A text input.
pub fn input(name: &str, label: &str, kind: &str, current: Option<&str>) -> String {
    format!(
        "<label>{}<input type=\"{kind}\" name=\"{name}\" value=\"{}\"></label>",
        esc(label),
        esc(current.unwrap_or_default())
    )
}
