//! XSD validation (reference §4) with libxml2.
//!
//! The gateway's schema sets include `./coreschemas/…` files that do not exist; it
//! resolves includes by file name. At load time each set is copied to a private
//! folder with every `schemaLocation` reduced to its file name, then compiled once
//! per thread (libxml2 validation contexts are not shared between threads).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use libxml::parser::Parser;
use libxml::schemas::{SchemaParserContext, SchemaValidationContext};

use crate::Error;

static INSTANCES: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static VALIDATORS: RefCell<HashMap<PathBuf, SchemaValidationContext>> = RefCell::new(HashMap::new());
}

/// The schema sets, keyed by `typeId/@extension`.
#[derive(Debug)]
pub struct SchemaSets {
    root: PathBuf,
    sets: Vec<String>,
}

impl Drop for SchemaSets {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

// === impl SchemaSets ===

impl SchemaSets {
    /// Prepares every set found in `schema_dir` (one folder per `typeId/@extension`).
    pub fn load(schema_dir: &Path) -> Result<Self, Error> {
        let n = INSTANCES.fetch_add(1, Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("fsemw-xsd-{}-{n}", std::process::id()));
        let location = regex::Regex::new(r#"schemaLocation="([^"]*)""#).expect("valid regex");
        let mut sets = Vec::new();
        let entries = std::fs::read_dir(schema_dir).map_err(|e| Error::read(schema_dir, e))?;
        for entry in entries.flatten() {
            let dir = entry.path();
            if !dir.join("CDA.xsd").is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().to_string();
            let target = root.join(&name);
            std::fs::create_dir_all(&target).map_err(|e| Error::read(&target, e))?;
            for file in std::fs::read_dir(&dir)
                .map_err(|e| Error::read(&dir, e))?
                .flatten()
            {
                let path = file.path();
                if path.extension().is_some_and(|x| x == "xsd") {
                    let text = std::fs::read_to_string(&path).map_err(|e| Error::read(&path, e))?;
                    let fixed = location.replace_all(&text, |c: &regex::Captures<'_>| {
                        let bare = c[1].rsplit('/').next().unwrap_or(&c[1]).to_string();
                        format!("schemaLocation=\"{bare}\"")
                    });
                    let copy = target.join(file.file_name());
                    std::fs::write(&copy, fixed.as_bytes()).map_err(|e| Error::read(&copy, e))?;
                }
            }
            sets.push(name);
        }
        sets.sort();
        Ok(Self { root, sets })
    }

    /// The `typeId/@extension` values with a schema set.
    pub fn names(&self) -> &[String] {
        &self.sets
    }

    /// Validates `xml` against the set `extension`. `Ok(messages)`: empty when valid.
    /// `Err`: no such set.
    pub fn validate(&self, extension: &str, xml: &str) -> Result<Vec<String>, Error> {
        if !self.sets.iter().any(|s| s == extension) {
            return Err(Error::NoSchemaSet(extension.to_string()));
        }
        let xsd = self.root.join(extension).join("CDA.xsd");
        let doc = match Parser::default().parse_string(as_utf8_declared(xml)) {
            Ok(d) => d,
            Err(e) => return Ok(vec![format!("FATAL: 1,1 {e:?}")]),
        };
        VALIDATORS.with(|cache| {
            let mut cache = cache.borrow_mut();
            if !cache.contains_key(&xsd) {
                let mut parser = SchemaParserContext::from_file(&xsd.display().to_string());
                let ctx = SchemaValidationContext::from_parser(&mut parser).map_err(|errs| {
                    let first = errs
                        .first()
                        .and_then(|e| e.message.clone())
                        .unwrap_or_default();
                    Error::Schema {
                        set: extension.to_string(),
                        message: first.trim().to_string(),
                    }
                })?;
                cache.insert(xsd.clone(), ctx);
            }
            let ctx = cache.get_mut(&xsd).expect("inserted above");
            Ok(match ctx.validate_document(&doc) {
                Ok(()) => Vec::new(),
                Err(errors) => errors
                    .iter()
                    .map(|e| {
                        let level = match e.level {
                            libxml::error::XmlErrorLevel::Warning => "WARN",
                            libxml::error::XmlErrorLevel::Fatal => "FATAL",
                            _ => "ERROR",
                        };
                        let msg = e.message.clone().unwrap_or_default();
                        format!(
                            "{level}: {},{} {}",
                            e.line.unwrap_or(0),
                            e.col.unwrap_or(0),
                            msg.trim()
                        )
                    })
                    .collect(),
            })
        })
    }
}

/// The text is already decoded: its declaration must not claim another encoding.
fn as_utf8_declared(xml: &str) -> String {
    let Some(rest) = xml.strip_prefix("<?xml") else {
        return xml.to_string();
    };
    let Some(end) = rest.find("?>") else {
        return xml.to_string();
    };
    let decl = regex::Regex::new(r#"encoding\s*=\s*["'][^"']*["']"#).expect("valid regex");
    format!(
        "<?xml{}?>{}",
        decl.replace(&rest[..end], "encoding=\"UTF-8\""),
        &rest[end + 2..]
    )
}
