//! GovWay's validation of each request against the API's published OpenAPI (review S13),
//! before the dispatcher sees it: 400 `InvalidRequestContent`, detail
//! `Request content not conform to API specification: ` and what the validator says.
//!
//! GovWay validates OpenAPI 3.0 with its fork of openapi4j 1.0.7 (`govway.properties`
//! `openApi.30.library=openapi4j`; `ValidatoreMessaggiApplicativiRest` composes the detail;
//! link-it/govway @ 1b2d6813, link-it/gov4j-thirdparty `openapi-1.0.7/gov4j-jk9` patches @
//! e4d67d58). Live: it-fse-support #312 (`type` then `required` on a `requestBody` part
//! read as text), #2487 and #613 (`enum`), #113 (a body that cannot be read), #665 (a
//! `charset` before the boundary). What this module does, per openapi4j @ e298b5f0:
//! - the path parameters, then the body, into one list;
//! - a multipart body becomes an object of its parts: a part with a filename is its
//!   name (a binary passes), a part without a Content-Type or with exactly
//!   `application/json` is read as JSON (else code 201), any other is text;
//! - every keyword of every schema is checked (no fast fail), keywords and properties in
//!   Java `HashMap` order, `required` in its array's order, extra fields in the body's;
//! - the crumbs: data names joined by `.`, `From:` with the `$ref`s (but the one right
//!   under the media type), `<items>` and the keyword as `<…>`.
//!
//! Responses are not validated: the live gateway's error bodies break its own schemas
//! (`workflowInstanceId`, `govway_id`, `warning` in `ErrorResponseDTO`, it-fse-support
//! #893), so response validation is off in the deployment.

use std::path::Path;

use bytes::Bytes;
use gateway_contract::java::hash_order;
use http::{HeaderMap, Method};
use serde_json::{Map, Value};

const PREFIX: &str = "Request content not conform to API specification: ";

/// The published OpenAPI, as JSON.
#[derive(Debug)]
pub struct RequestContract {
    doc: Value,
}

/// One finding of the validator.
struct Finding {
    data: Vec<String>,
    from: Vec<String>,
    message: String,
    code: u16,
}

/// Where a value is: its data crumbs and its schema crumbs.
#[derive(Clone, Default)]
struct At {
    data: Vec<String>,
    from: Vec<String>,
}

// === impl RequestContract ===

impl RequestContract {
    /// Reads an OpenAPI 3.0 document (YAML or JSON).
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let docs = yaml_rust2::YamlLoader::load_from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let doc = docs
            .first()
            .map(to_json)
            .ok_or_else(|| anyhow::anyhow!("{}: empty document", path.display()))?;
        anyhow::ensure!(doc["paths"].is_object(), "{}: no paths", path.display());
        Ok(Self { doc })
    }

    /// GovWay's verdict on a request for the route `template` (the contract's path with
    /// `{id}` for its parameter): `Err(detail)` when it refuses it.
    pub fn check(
        &self,
        method: &Method,
        template: &str,
        id: Option<&str>,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<(), String> {
        let Some((operation, params)) = self.operation(method, template) else {
            // Not in the published API: what GovWay answers is not known (docs row S13).
            return Ok(());
        };
        let mut found = Vec::new();
        for param in params {
            if let (Some(name), Some(value)) = (param["name"].as_str(), id) {
                let at = At {
                    data: vec![name.into()],
                    from: vec![name.into()],
                };
                self.validate(
                    Some(&Value::String(value.into())),
                    &param["schema"],
                    &at,
                    &mut found,
                );
            }
        }
        if !body.is_empty()
            && let Some(content) = operation["requestBody"]["content"].as_object()
        {
            let content_type = headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            match self.body(content, content_type, body, &mut found) {
                Ok(()) => {}
                Err(Stop::Bare(text)) => return Err(format!("{PREFIX}{text}")),
                Err(Stop::Finding(f)) => found.push(f),
            }
        }
        if found.is_empty() {
            return Ok(());
        }
        Err(format!("{PREFIX}{}", results(&found)))
    }

    /// The operation of `method` on the contract path that reads as `template`, and its
    /// path parameters.
    fn operation(&self, method: &Method, template: &str) -> Option<(&Value, Vec<&Value>)> {
        let paths = self.doc["paths"].as_object()?;
        let (_, item) = paths.iter().find(|(p, _)| as_template(p) == template)?;
        let operation = item.get(method.as_str().to_ascii_lowercase())?;
        let params = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .collect();
        Some((operation, params))
    }

    fn body(
        &self,
        content: &Map<String, Value>,
        content_type: Option<&str>,
        body: &Bytes,
        found: &mut Vec<Finding>,
    ) -> Result<(), Stop> {
        let Some(content_type) = content_type else {
            return Err(bare(
                202,
                "Body content type cannot be determined. No 'Content-Type' header available.",
            ));
        };
        // openapi4j takes everything after `charset=` as the charset's name; Java refuses
        // a name like `UTF-8; boundary=…` with that text alone (live #665).
        if let Some((_, charset)) = content_type.split_once("charset=")
            && !is_charset_name(charset)
        {
            return Err(Stop::Bare(charset.to_string()));
        }
        let essence = gateway_contract::headers::media_essence(content_type);
        let Some((_, media)) = content
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&essence))
        else {
            return Err(bare(
                203,
                &format!("Content type '{content_type}' is not allowed for body content."),
            ));
        };
        let schema = self.resolve(&media["schema"]);
        let value = if essence == "multipart/form-data" {
            self.multipart(schema, content_type, body)?
        } else {
            serde_json::from_slice(body).map_err(|e| unreadable(content_type, &e))?
        };
        let at = At {
            data: vec!["body".into()],
            from: vec!["body".into()],
        };
        self.validate(Some(&value), schema, &at, found);
        Ok(())
    }

    /// The parts as the object the fork of openapi4j validates (its `MultipartConverter`
    /// with patch 007): a part whose property is `format: binary` is its filename (else
    /// its name); one without a Content-Type or with exactly `application/json` is JSON
    /// (unreadable: code 201); another JSON type is JSON when it reads as such, else text;
    /// anything else is text. A name given twice is an array of the values.
    fn multipart(&self, schema: &Value, content_type: &str, body: &Bytes) -> Result<Value, Stop> {
        let parts = gateway_contract::form::read_parts(content_type, body)
            .map_err(|e| bare(201, &format!("An error occurred when getting the body content from type '{content_type}'.\n{e}")))?;
        let mut object = Map::new();
        for part in parts {
            let Some(name) = part.name.clone() else {
                continue;
            };
            let property = self.resolve(&schema["properties"][&name]);
            let text = || Value::String(String::from_utf8_lossy(&part.body).into_owned());
            let value = if matches!(property["format"].as_str(), Some("binary" | "base64")) {
                Value::String(part.file_name.clone().unwrap_or_else(|| name.clone()))
            } else {
                match part.content_type.as_deref() {
                    None | Some("application/json") => serde_json::from_slice(&part.body)
                        .map_err(|e| unreadable(content_type, &e))?,
                    Some(t)
                        if gateway_contract::headers::media_essence(t) == "application/json" =>
                    {
                        serde_json::from_slice(&part.body).unwrap_or_else(|_| text())
                    }
                    Some(_) => text(),
                }
            };
            match object.get_mut(&name) {
                Some(Value::Array(values)) => values.push(value),
                Some(earlier) => *earlier = Value::Array(vec![earlier.take(), value]),
                None => {
                    object.insert(name, value);
                }
            }
        }
        Ok(Value::Object(object))
    }

    /// A `$ref` to a component, followed.
    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(r) => self.pointer(r).unwrap_or(&Value::Null),
            None => schema,
        }
    }

    fn pointer(&self, reference: &str) -> Option<&Value> {
        self.doc.pointer(reference.strip_prefix('#')?)
    }

    /// openapi4j's schema validation of `value` (absent: not there).
    fn validate(&self, value: Option<&Value>, schema: &Value, at: &At, found: &mut Vec<Finding>) {
        let (Some(value), Some(keywords)) = (value, schema.as_object()) else {
            return;
        };
        if let Some(reference) = schema["$ref"].as_str() {
            let mut inner = at.clone();
            inner.from.push(format!("<{reference}>"));
            if let Some(target) = self.pointer(reference) {
                self.validate(Some(value), target, &inner, found);
            }
            return;
        }
        // A null meets `nullable` (false unless said) and then the other keywords too.
        if value.is_null() && schema["nullable"] != true {
            found.push(at.finding("<nullable>", 1021, "Null value is not allowed.".into()));
        }
        let names: Vec<&str> = keywords.keys().map(String::as_str).collect();
        for keyword in hash_order(&names) {
            self.keyword(keyword, value, schema, at, found);
        }
    }

    fn keyword(
        &self,
        keyword: &str,
        value: &Value,
        schema: &Value,
        at: &At,
        found: &mut Vec<Finding>,
    ) {
        let rule = &schema[keyword];
        match keyword {
            "properties" => return self.properties(value, rule, at, found),
            "items" => {
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    let mut inner = at.clone();
                    inner.data.push(i.to_string());
                    inner.from.push(i.to_string());
                    inner.from.push("<items>".into());
                    self.validate(Some(item), rule, &inner, found);
                }
                return;
            }
            _ => {}
        }
        for (code, message) in judge(keyword, rule, value, schema) {
            found.push(at.finding(&format!("<{keyword}>"), code, message));
        }
    }

    fn properties(&self, value: &Value, rule: &Value, at: &At, found: &mut Vec<Finding>) {
        let (Some(object), Some(declared)) = (value.as_object(), rule.as_object()) else {
            return;
        };
        let names: Vec<&str> = declared.keys().map(String::as_str).collect();
        for name in hash_order(&names) {
            let mut inner = at.clone();
            inner.data.push(name.into());
            inner.from.push(name.into());
            self.validate(object.get(name), &declared[name], &inner, found);
        }
    }
}

/// The findings of one value keyword (`type`, `enum`, lengths, counts, `required`,
/// `additionalProperties`) on `value`.
fn judge(keyword: &str, rule: &Value, value: &Value, schema: &Value) -> Vec<(u16, String)> {
    let binary = schema["format"] == "binary";
    let limit = rule.as_u64().unwrap_or_default();
    let length = value.as_str().map(|s| s.chars().count() as u64);
    let count = value.as_array().map(|a| a.len() as u64);
    match keyword {
        "type" if !binary && !value.is_null() => {
            let expected = rule.as_str().unwrap_or_default();
            let found = type_name(value);
            (!has_type(value, expected))
                .then(|| {
                    (
                        1027,
                        format!("Type expected '{expected}', found '{found}'."),
                    )
                })
                .into_iter()
                .collect()
        }
        "enum" => {
            let allowed = rule.as_array().map(Vec::as_slice).unwrap_or_default();
            (!allowed.contains(value))
                .then(|| {
                    (
                        1006,
                        format!("Value '{}' is not defined in the schema.", text(value)),
                    )
                })
                .into_iter()
                .collect()
        }
        // The fork does not spare a binary (its value is the part's filename).
        "maxLength" => over(length, limit, 1012, "Max length"),
        "minLength" => under(length, limit, 1017, "Min length"),
        "maxItems" => over(count, limit, 1011, "Max items"),
        "minItems" => under(count, limit, 1016, "Min items"),
        "required" => rule
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|name| value.get(name).is_none())
            .map(|name| (1026, format!("Field '{name}' is required.")))
            .collect(),
        "additionalProperties" if *rule == Value::Bool(false) => {
            let declared = schema["properties"].as_object();
            value
                .as_object()
                .into_iter()
                .flat_map(Map::keys)
                .filter(|name| !declared.is_some_and(|d| d.contains_key(*name)))
                .map(|name| {
                    (
                        1000,
                        format!("Additional property '{name}' is not allowed."),
                    )
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

fn over(n: Option<u64>, limit: u64, code: u16, what: &str) -> Vec<(u16, String)> {
    match n {
        Some(n) if n > limit => vec![(code, format!("{what} is '{limit}', found '{n}'."))],
        _ => Vec::new(),
    }
}

fn under(n: Option<u64>, limit: u64, code: u16, what: &str) -> Vec<(u16, String)> {
    match n {
        Some(n) if n < limit => vec![(code, format!("{what} is '{limit}', found '{n}'."))],
        _ => Vec::new(),
    }
}

/// What ends the body's reading before its schema is checked.
enum Stop {
    /// A finding without crumbs (codes 20x).
    Finding(Finding),
    /// A Java exception's message alone (not openapi4j's results).
    Bare(String),
}

fn bare(code: u16, message: &str) -> Stop {
    Stop::Finding(Finding {
        data: Vec::new(),
        from: Vec::new(),
        message: message.into(),
        code,
    })
}

/// A part or body that is not JSON: the parser's exception, as Jackson names it (the
/// message itself is serde's, not Jackson's: **unverified wording**).
fn unreadable(content_type: &str, e: &serde_json::Error) -> Stop {
    bare(
        201,
        &format!(
            "An error occurred when getting the body content from type '{content_type}'.\ncom.fasterxml.jackson.core.JsonParseException: {e}"
        ),
    )
}

// === impl At ===

impl At {
    fn finding(&self, keyword: &str, code: u16, message: String) -> Finding {
        let mut from = self.from.clone();
        from.push(keyword.into());
        Finding {
            data: self.data.clone(),
            from,
            message,
            code,
        }
    }
}

/// `ValidationResults.toString()`: the header, then each finding and where it was.
fn results(found: &[Finding]) -> String {
    let mut out = String::from("Validation error(s) :\n");
    for f in found {
        if !f.data.is_empty() {
            out.push_str(&f.data.join("."));
            out.push_str(": ");
        }
        out.push_str(&format!("{} (code: {})", f.message, f.code));
        if !f.from.is_empty() {
            out.push_str("\nFrom: ");
            out.push_str(&f.from.join("."));
        }
        out.push('\n');
    }
    out
}

/// The path with every `{name}` as `{id}`, as the contract's routes write it.
fn as_template(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => {
                inside = true;
                out.push_str("{id}");
            }
            '}' => inside = false,
            _ if inside => {}
            _ => out.push(c),
        }
    }
    out
}

fn is_charset_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '+'))
}

fn has_type(value: &Value, expected: &str) -> bool {
    match expected {
        "string" => value.is_string(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        _ => true,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "string",
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::Null => "null",
    }
}

/// Jackson's `asText()`: empty for objects and arrays.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(_) | Value::Array(_) => String::new(),
        other => other.to_string(),
    }
}

/// A YAML node as JSON (mapping order kept).
fn to_json(node: &yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match node {
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        other => format!("{other:?}"),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_in_java_hashmap_order() {
        // `type` before `required`, as live #312 lists them.
        assert_eq!(
            hash_order(&["type", "additionalProperties", "properties", "required"]),
            ["additionalProperties", "type", "properties", "required"]
        );
        assert_eq!(
            hash_order(&["maxLength", "minLength", "type"]),
            ["minLength", "type", "maxLength"]
        );
        assert_eq!(
            as_template("/documents/{idDoc}/metadata-iti-57"),
            "/documents/{id}/metadata-iti-57"
        );
        assert!(is_charset_name("UTF-8") && !is_charset_name("UTF-8; boundary=x"));
    }
}
