//! ebRIM 3.0 registry objects as XDS.b uses them.
//!
//! The model keeps every attribute and slot it reads so that what a registry
//! stores can be written back unchanged (INI compares metadata it sent).

mod parse;
mod write;

pub use parse::{parse_object, parse_object_list};
pub use write::{write_object, write_object_ref, xml_escape};

/// A named list of string values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Slot name (`creationTime`, `urn:ita:2022:documentSigned`…).
    pub name: String,
    /// Values in document order.
    pub values: Vec<String>,
}

/// A coded value or marker attached to an object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Classification {
    /// Object id.
    pub id: String,
    /// `classificationScheme` (external classification: a coded value).
    pub scheme: Option<String>,
    /// `classificationNode` (internal classification: SubmissionSet/Folder marker).
    pub node: Option<String>,
    /// The classified object's id.
    pub classified_object: String,
    /// The code (`nodeRepresentation`).
    pub node_representation: Option<String>,
    /// Slots (`codingScheme`, author slots…).
    pub slots: Vec<Slot>,
    /// Display name.
    pub name: Option<String>,
}

/// An identifier of an object in an external scheme (patientId, uniqueId…).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExternalIdentifier {
    /// Object id.
    pub id: String,
    /// `identificationScheme`.
    pub scheme: String,
    /// The identified object's id.
    pub registry_object: String,
    /// The identifier.
    pub value: String,
    /// Display name (`XDSDocumentEntry.patientId`…).
    pub name: Option<String>,
}

/// What ExtrinsicObject and RegistryPackage share.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectCore {
    /// `id`: symbolic or `urn:uuid:…`.
    pub id: String,
    /// Logical id (shared by the versions of one object).
    pub lid: Option<String>,
    /// Availability status.
    pub status: Option<String>,
    /// Home community.
    pub home: Option<String>,
    /// `VersionInfo/@versionName`.
    pub version_name: Option<String>,
    /// Slots.
    pub slots: Vec<Slot>,
    /// `Name/LocalizedString/@value`.
    pub name: Option<String>,
    /// `Description/LocalizedString/@value`.
    pub description: Option<String>,
    /// Nested classifications.
    pub classifications: Vec<Classification>,
    /// Nested external identifiers.
    pub external_ids: Vec<ExternalIdentifier>,
}

/// A DocumentEntry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtrinsicObject {
    /// Common attributes.
    pub core: ObjectCore,
    /// MIME type of the document.
    pub mime_type: String,
    /// Stable or on-demand entry type.
    pub object_type: String,
    /// `isOpaque`.
    pub is_opaque: Option<String>,
}

/// A SubmissionSet or Folder.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegistryPackage {
    /// Common attributes.
    pub core: ObjectCore,
}

/// A typed link between two objects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Association {
    /// Object id.
    pub id: String,
    /// Association type URN.
    pub association_type: String,
    /// Source object id.
    pub source: String,
    /// Target object id.
    pub target: String,
    /// Availability status.
    pub status: Option<String>,
    /// Slots (`SubmissionSetStatus`, `PreviousVersion`…).
    pub slots: Vec<Slot>,
}

/// One member of a `RegistryObjectList`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryObject {
    /// DocumentEntry.
    Extrinsic(ExtrinsicObject),
    /// SubmissionSet or Folder.
    Package(RegistryPackage),
    /// Association.
    Association(Association),
    /// A top-level classification (the SubmissionSet marker).
    Classification(Classification),
    /// A reference by id only (`ObjectRef`).
    Ref(String),
}

// === impl ObjectCore ===

impl ObjectCore {
    /// The first value of a slot.
    pub fn slot(&self, name: &str) -> Option<&str> {
        slot_value(&self.slots, name)
    }

    /// Every value of a slot.
    pub fn slot_values(&self, name: &str) -> Vec<&str> {
        self.slots
            .iter()
            .filter(|s| s.name == name)
            .flat_map(|s| s.values.iter().map(String::as_str))
            .collect()
    }

    /// Replaces (or adds) a single-valued slot.
    pub fn set_slot(&mut self, name: &str, value: &str) {
        match self.slots.iter_mut().find(|s| s.name == name) {
            Some(s) => s.values = vec![value.to_string()],
            None => self.slots.push(Slot {
                name: name.to_string(),
                values: vec![value.to_string()],
            }),
        }
    }

    /// The classifications with a scheme.
    pub fn classified(&self, scheme: &str) -> impl Iterator<Item = &Classification> {
        self.classifications
            .iter()
            .filter(move |c| c.scheme.as_deref() == Some(scheme))
    }

    /// The value of the external identifier with a scheme.
    pub fn external_id(&self, scheme: &str) -> Option<&str> {
        self.external_ids
            .iter()
            .find(|e| e.scheme == scheme)
            .map(|e| e.value.as_str())
    }
}

// === impl Classification ===

impl Classification {
    /// The first value of a slot.
    pub fn slot(&self, name: &str) -> Option<&str> {
        slot_value(&self.slots, name)
    }

    /// `code^^codingScheme`, the form stored queries use for coded values.
    pub fn coded(&self) -> Option<String> {
        let code = self.node_representation.as_deref()?;
        Some(format!(
            "{code}^^{}",
            self.slot("codingScheme").unwrap_or("")
        ))
    }
}

// === impl Association ===

impl Association {
    /// The first value of a slot.
    pub fn slot(&self, name: &str) -> Option<&str> {
        slot_value(&self.slots, name)
    }
}

// === impl RegistryObject ===

impl RegistryObject {
    /// The object's id.
    pub fn id(&self) -> &str {
        match self {
            Self::Extrinsic(e) => &e.core.id,
            Self::Package(p) => &p.core.id,
            Self::Association(a) => &a.id,
            Self::Classification(c) => &c.id,
            Self::Ref(id) => id,
        }
    }
}

fn slot_value<'a>(slots: &'a [Slot], name: &str) -> Option<&'a str> {
    slots
        .iter()
        .find(|s| s.name == name)
        .and_then(|s| s.values.first())
        .map(String::as_str)
}
