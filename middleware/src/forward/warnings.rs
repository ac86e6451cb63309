//! Regional warnings after the national ones (national rules, MW §6).
//!
//! The prefix `--middlewarewarning--` appears once, after any national warning;
//! every local warning follows it, comma-separated as the gateway joins its own.
//! Warnings are only added to successful answers: a gateway error is returned
//! without any local data.

/// Separates national from regional warnings.
pub const PREFIX: &str = "--middlewarewarning--";

/// The merged `warning` text, or `None` when there is nothing local to add.
pub fn merge(national: Option<&str>, local: &[String]) -> Option<String> {
    if local.is_empty() {
        return None;
    }
    Some(format!(
        "{}{PREFIX}{}",
        national.unwrap_or_default(),
        local.join(",")
    ))
}

/// Rewrites a JSON success body with the merged warning, keeping every other
/// field and its order; `None` when the body is not a JSON object.
pub fn apply(body: &[u8], local: &[String]) -> Option<Vec<u8>> {
    let mut doc: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body).ok()?;
    let national = doc
        .get("warning")
        .and_then(|w| w.as_str())
        .map(str::to_owned);
    let merged = merge(national.as_deref(), local)?;
    doc.insert("warning".into(), serde_json::Value::String(merged));
    serde_json::to_vec(&doc).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_only_is_untouched() {
        assert_eq!(merge(Some("[W005 | x]"), &[]), None);
        assert_eq!(
            apply(br#"{"traceID":"a","warning":"[W005 | x]"}"#, &[]),
            None
        );
    }

    #[test]
    fn local_only_gets_the_prefix() {
        assert_eq!(
            merge(None, &["[MW-TESTCF] a".into()]).unwrap(),
            "--middlewarewarning--[MW-TESTCF] a"
        );
        assert_eq!(
            merge(Some(""), &["x".into()]).unwrap(),
            "--middlewarewarning--x"
        );
    }

    #[test]
    fn both_keep_national_first_and_one_prefix() {
        let national = "[[WARNING_EXTRACT]Attenzione, non è stata selezionata la modalità di estrazione del CDA]";
        let merged = merge(Some(national), &["a".into(), "b".into()]).unwrap();
        assert_eq!(merged, format!("{national}--middlewarewarning--a,b"));
        assert_eq!(merged.matches(PREFIX).count(), 1);
        let body = apply(
            br#"{"traceID":"t","spanID":"s","workflowInstanceId":"w","warning":"n"}"#,
            &["l".into()],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"traceID":"t","spanID":"s","workflowInstanceId":"w","warning":"n--middlewarewarning--l"}"#
        );
    }
}
