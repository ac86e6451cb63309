//! `[[gateway.routes]]`: the gateway's paths the middleware serves, as data.
//!
//! The allow-list starts from the paths of the Ministry's OpenAPI 2.6.3
//! (`gateway_contract::operation::Operation::published`); each configured entry adds a path
//! or changes the rule of one with the same method and path. The rule (`inspect`) says how
//! the middleware reads the call: as one of the contract's operations (its checks, its
//! audit facts, queued while the gateway is down when it is a publication) or
//! `pass_through` (forwarded with the tokens treated, nothing read). So a new national
//! endpoint, or a path the Ministry dropped that producers still call (the `/metadata`
//! update), is a configuration change, not a release. Anything else is answered
//! `mw/not-found` without reaching the gateway.

use gateway_contract::operation::Operation;
use http::Method;
use serde::Deserialize;

use super::{ConfigError, bad};

/// One configured path.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// `GET`, `POST`, `PUT`, `DELETE` or `PATCH`.
    pub method: String,
    /// Relative to the base paths, literal segments and at most one `{id}`
    /// (e.g. `/documents/{id}/metadata`).
    pub path: String,
    /// An operation name (`create`, `metadata`, `fhir_create`…, as in the metrics) or
    /// `pass_through`.
    pub inspect: String,
}

/// A path the middleware serves, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// How the call is read.
    pub op: Operation,
    /// Its method.
    pub method: Method,
    /// Its route relative to the base paths.
    pub path: String,
}

/// The published paths with the configured ones applied.
pub fn resolve(configured: &[RouteConfig]) -> Result<Vec<Route>, ConfigError> {
    let mut routes: Vec<Route> = Operation::published()
        .map(|(op, method, path)| Route {
            op,
            method,
            path: path.to_string(),
        })
        .collect();
    for (i, entry) in configured.iter().enumerate() {
        let route = entry.resolve(&format!("gateway.routes[{i}]"))?;
        match routes
            .iter_mut()
            .find(|r| r.method == route.method && r.path == route.path)
        {
            Some(same) => *same = route,
            None => routes.push(route),
        }
    }
    Ok(routes)
}

impl RouteConfig {
    fn resolve(&self, key: &str) -> Result<Route, ConfigError> {
        let method = match self.method.to_ascii_uppercase().as_str() {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "PUT" => Method::PUT,
            "DELETE" => Method::DELETE,
            "PATCH" => Method::PATCH,
            other => {
                return Err(ConfigError(format!(
                    "{key}.method: {other:?} is not GET, POST, PUT, DELETE or PATCH"
                )));
            }
        };
        let op = Operation::from_name(&self.inspect).ok_or_else(|| {
            ConfigError(format!(
                "{key}.inspect: {:?} is neither an operation nor pass_through",
                self.inspect
            ))
        })?;
        check_path(&format!("{key}.path"), &self.path, op)?;
        Ok(Route {
            op,
            method,
            path: self.path.clone(),
        })
    }
}

/// Literal segments of URL-safe characters and at most one `{id}`, which an operation
/// naming a document or a status needs.
fn check_path(key: &str, path: &str, op: Operation) -> Result<(), ConfigError> {
    let Some(rest) = path.strip_prefix('/') else {
        return bad(key, format!("{path:?} must start with '/'"));
    };
    let literal = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
    };
    let mut ids = 0;
    for segment in rest.split('/') {
        if segment == "{id}" {
            ids += 1;
        } else if !literal(segment) || segment == "." || segment == ".." {
            return bad(
                key,
                format!("segment {segment:?} of {path:?}: literal or {{id}}"),
            );
        }
    }
    let needs_id = op.path_is_document_id()
        || matches!(op, Operation::StatusByWorkflow | Operation::StatusByTrace);
    match (ids, needs_id) {
        (0 | 1, false) | (1, true) => Ok(()),
        (0, true) => bad(key, format!("{} reads the {{id}} of its path", op.name())),
        _ => bad(key, format!("{path:?}: at most one {{id}}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(method: &str, path: &str, inspect: &str) -> RouteConfig {
        RouteConfig {
            method: method.into(),
            path: path.into(),
            inspect: inspect.into(),
        }
    }

    #[test]
    fn the_published_paths_are_served_without_configuration() {
        let routes = resolve(&[]).unwrap();
        assert!(routes.iter().any(|r| r.op == Operation::FhirCreate
            && r.method == Method::POST
            && r.path == "/fhir-documents"));
        assert!(!routes.iter().any(|r| r.op == Operation::Metadata));
    }

    #[test]
    fn configured_paths_are_added_or_change_a_rule() {
        let routes = resolve(&[
            entry("put", "/documents/{id}/metadata", "metadata"),
            entry("POST", "/fhir-documents", "pass_through"),
            entry("GET", "/status/eds-new", "pass_through"),
        ])
        .unwrap();
        assert!(
            routes
                .iter()
                .any(|r| r.op == Operation::Metadata && r.method == Method::PUT)
        );
        let fhir: Vec<_> = routes
            .iter()
            .filter(|r| r.path == "/fhir-documents")
            .collect();
        assert_eq!(fhir.len(), 1);
        assert_eq!(fhir[0].op, Operation::PassThrough);
        assert!(routes.iter().any(|r| r.path == "/status/eds-new"));
    }

    #[test]
    fn bad_entries_name_their_key() {
        let cases = [
            (
                entry("TRACE", "/x", "pass_through"),
                "gateway.routes[0].method",
            ),
            (entry("GET", "/x", "publish"), "gateway.routes[0].inspect"),
            (entry("GET", "x", "pass_through"), "gateway.routes[0].path"),
            (
                entry("GET", "/a/../b", "pass_through"),
                "gateway.routes[0].path",
            ),
            (
                entry("GET", "/a/{doc}", "pass_through"),
                "gateway.routes[0].path",
            ),
            (
                entry("GET", "/{id}/{id}", "pass_through"),
                "gateway.routes[0].path",
            ),
            (
                entry("DELETE", "/documents", "delete"),
                "gateway.routes[0].path",
            ),
        ];
        for (e, key) in cases {
            let err = resolve(std::slice::from_ref(&e)).unwrap_err().to_string();
            assert!(err.contains(&format!("{key}: ")), "{e:?}: {err}");
        }
    }
}
