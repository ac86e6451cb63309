//! XSD validation (reference §4) with libxml2, worded as the gateway's validator words
//! it ([`wording`]).
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

mod index;
mod wording;

use index::TypeIndex;
use wording::{Level, Reported};

/// The validator's answer when the document cannot be parsed at all (not well-formed,
/// or with a document type declaration, which it refuses): `ValidationSRV.validateSyntactic`
/// @ a57ca551 catches the parser's exception; live: it-fse-support #753.
pub const UNPARSABLE: &str = "Error while executing validation on xsd schema";

static INSTANCES: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static VALIDATORS: RefCell<HashMap<PathBuf, SchemaValidationContext>> = RefCell::new(HashMap::new());
}

/// The schema sets, keyed by `typeId/@extension`.
#[derive(Debug)]
pub struct SchemaSets {
    root: PathBuf,
    sets: Vec<String>,
    indexes: HashMap<String, TypeIndex>,
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
        let mut indexes = HashMap::new();
        let entries = std::fs::read_dir(schema_dir).map_err(|e| Error::read(schema_dir, e))?;
        for entry in entries.flatten() {
            let dir = entry.path();
            if !dir.join("CDA.xsd").is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().to_string();
            let target = root.join(&name);
            std::fs::create_dir_all(&target).map_err(|e| Error::read(&target, e))?;
            let mut texts = Vec::new();
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
                    texts.push(text);
                }
            }
            indexes.insert(
                name.clone(),
                TypeIndex::read(texts.iter().map(String::as_str)),
            );
            sets.push(name);
        }
        sets.sort();
        Ok(Self {
            root,
            sets,
            indexes,
        })
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
        let text = as_utf8_declared(xml);
        let Ok(tree) = roxmltree::Document::parse(&text) else {
            return Ok(vec![UNPARSABLE.to_string()]);
        };
        let doc = match Parser::default().parse_string(&text) {
            Ok(d) => d,
            Err(_) => return Ok(vec![UNPARSABLE.to_string()]),
        };
        let reported = VALIDATORS.with(|cache| {
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
            Ok::<_, Error>(match ctx.validate_document(&doc) {
                Ok(()) => Vec::new(),
                Err(errors) => errors.iter().map(reported).collect(),
            })
        })?;
        let index = &self.indexes[extension];
        Ok(wording::in_xerces_words(&reported, &tree, index))
    }
}

fn reported(e: &libxml::error::StructuredError) -> Reported {
    Reported {
        level: match e.level {
            libxml::error::XmlErrorLevel::Warning => Level::Warn,
            libxml::error::XmlErrorLevel::Fatal => Level::Fatal,
            _ => Level::Error,
        },
        line: e.line.and_then(|l| u32::try_from(l).ok()).unwrap_or(0),
        message: e.message.clone().unwrap_or_default(),
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
