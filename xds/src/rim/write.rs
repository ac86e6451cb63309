//! Writing ebRIM objects with the `rim:` prefix (declared by the caller).

use std::fmt::Write;

use super::{
    Association, Classification, ExternalIdentifier, ExtrinsicObject, ObjectCore, RegistryObject,
    RegistryPackage, Slot,
};
use crate::ns::object_type;

/// Escapes text for an attribute value or element content.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Appends one object.
pub fn write_object(out: &mut String, object: &RegistryObject) {
    match object {
        RegistryObject::Extrinsic(e) => extrinsic(out, e),
        RegistryObject::Package(p) => package(out, p),
        RegistryObject::Association(a) => association(out, a),
        RegistryObject::Classification(c) => classification(out, c),
        RegistryObject::Ref(id) => write_object_ref(out, id),
    }
}

/// Appends `<rim:ObjectRef id="…"/>`.
pub fn write_object_ref(out: &mut String, id: &str) {
    let _ = write!(out, "<rim:ObjectRef id=\"{}\"/>", xml_escape(id));
}

fn attr(out: &mut String, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        let _ = write!(out, " {name}=\"{}\"", xml_escape(v));
    }
}

fn extrinsic(out: &mut String, e: &ExtrinsicObject) {
    out.push_str("<rim:ExtrinsicObject");
    common_attrs(out, &e.core);
    attr(out, "isOpaque", e.is_opaque.as_deref());
    attr(out, "mimeType", Some(&e.mime_type));
    attr(out, "objectType", Some(&e.object_type));
    out.push('>');
    core_body(out, &e.core);
    out.push_str("</rim:ExtrinsicObject>");
}

fn package(out: &mut String, p: &RegistryPackage) {
    out.push_str("<rim:RegistryPackage");
    common_attrs(out, &p.core);
    attr(out, "objectType", Some(object_type::REGISTRY_PACKAGE));
    out.push('>');
    core_body(out, &p.core);
    out.push_str("</rim:RegistryPackage>");
}

fn common_attrs(out: &mut String, c: &ObjectCore) {
    attr(out, "id", Some(&c.id));
    attr(out, "lid", c.lid.as_deref());
    attr(out, "status", c.status.as_deref());
    attr(out, "home", c.home.as_deref());
}

fn core_body(out: &mut String, c: &ObjectCore) {
    slots(out, &c.slots);
    localized(out, "Name", c.name.as_deref());
    localized(out, "Description", c.description.as_deref());
    if let Some(v) = &c.version_name {
        let _ = write!(out, "<rim:VersionInfo versionName=\"{}\"/>", xml_escape(v));
    }
    for cl in &c.classifications {
        classification(out, cl);
    }
    for ei in &c.external_ids {
        external_identifier(out, ei);
    }
}

fn classification(out: &mut String, c: &Classification) {
    out.push_str("<rim:Classification");
    attr(out, "classificationScheme", c.scheme.as_deref());
    attr(out, "classificationNode", c.node.as_deref());
    attr(out, "classifiedObject", Some(&c.classified_object));
    attr(out, "id", Some(&c.id));
    attr(out, "nodeRepresentation", c.node_representation.as_deref());
    attr(out, "objectType", Some(object_type::CLASSIFICATION));
    out.push('>');
    slots(out, &c.slots);
    localized(out, "Name", c.name.as_deref());
    out.push_str("</rim:Classification>");
}

fn external_identifier(out: &mut String, e: &ExternalIdentifier) {
    out.push_str("<rim:ExternalIdentifier");
    attr(out, "id", Some(&e.id));
    attr(out, "identificationScheme", Some(&e.scheme));
    attr(out, "objectType", Some(object_type::EXTERNAL_IDENTIFIER));
    attr(out, "registryObject", Some(&e.registry_object));
    attr(out, "value", Some(&e.value));
    out.push('>');
    localized(out, "Name", e.name.as_deref());
    out.push_str("</rim:ExternalIdentifier>");
}

fn association(out: &mut String, a: &Association) {
    out.push_str("<rim:Association");
    attr(out, "associationType", Some(&a.association_type));
    attr(out, "id", Some(&a.id));
    attr(out, "objectType", Some(object_type::ASSOCIATION));
    attr(out, "sourceObject", Some(&a.source));
    attr(out, "status", a.status.as_deref());
    attr(out, "targetObject", Some(&a.target));
    out.push('>');
    slots(out, &a.slots);
    out.push_str("</rim:Association>");
}

fn slots(out: &mut String, slots: &[Slot]) {
    for s in slots {
        let _ = write!(
            out,
            "<rim:Slot name=\"{}\"><rim:ValueList>",
            xml_escape(&s.name)
        );
        for v in &s.values {
            let _ = write!(out, "<rim:Value>{}</rim:Value>", xml_escape(v));
        }
        out.push_str("</rim:ValueList></rim:Slot>");
    }
}

fn localized(out: &mut String, tag: &str, value: Option<&str>) {
    if let Some(v) = value {
        let _ = write!(
            out,
            "<rim:{tag}><rim:LocalizedString value=\"{}\"/></rim:{tag}>",
            xml_escape(v)
        );
    }
}
