//! Reading ebRIM objects from a parsed XML tree (namespace-aware, prefix-agnostic).

use roxmltree::Node;

use super::{
    Association, Classification, ExternalIdentifier, ExtrinsicObject, ObjectCore, RegistryObject,
    RegistryPackage, Slot,
};
use crate::Error;
use crate::ns::RIM;

/// The members of a `rim:RegistryObjectList` (or any element holding rim objects).
pub fn parse_object_list(list: Node<'_, '_>) -> Result<Vec<RegistryObject>, Error> {
    list.children()
        .filter(|n| n.is_element() && n.tag_name().namespace() == Some(RIM))
        .filter_map(|n| parse_object(n).transpose())
        .collect()
}

/// One rim object; `None` for elements that are not registry objects.
pub fn parse_object(n: Node<'_, '_>) -> Result<Option<RegistryObject>, Error> {
    Ok(Some(match n.tag_name().name() {
        "ExtrinsicObject" => RegistryObject::Extrinsic(ExtrinsicObject {
            core: core(n)?,
            mime_type: required(n, "mimeType")?,
            object_type: n.attribute("objectType").unwrap_or_default().to_string(),
            is_opaque: n.attribute("isOpaque").map(str::to_string),
        }),
        "RegistryPackage" => RegistryObject::Package(RegistryPackage { core: core(n)? }),
        "Association" => RegistryObject::Association(Association {
            id: required(n, "id")?,
            association_type: required(n, "associationType")?,
            source: required(n, "sourceObject")?,
            target: required(n, "targetObject")?,
            status: n.attribute("status").map(str::to_string),
            slots: slots(n),
        }),
        "Classification" => RegistryObject::Classification(classification(n)?),
        "ObjectRef" => RegistryObject::Ref(required(n, "id")?),
        _ => return Ok(None),
    }))
}

fn core(n: Node<'_, '_>) -> Result<ObjectCore, Error> {
    let mut core = ObjectCore {
        id: required(n, "id")?,
        lid: n.attribute("lid").map(str::to_string),
        status: n.attribute("status").map(str::to_string),
        home: n.attribute("home").map(str::to_string),
        version_name: rim_child(n, "VersionInfo")
            .and_then(|v| v.attribute("versionName"))
            .map(str::to_string),
        slots: slots(n),
        name: localized(n, "Name"),
        description: localized(n, "Description"),
        ..Default::default()
    };
    for c in rim_children(n) {
        match c.tag_name().name() {
            "Classification" => core.classifications.push(classification(c)?),
            "ExternalIdentifier" => core.external_ids.push(ExternalIdentifier {
                id: required(c, "id")?,
                scheme: required(c, "identificationScheme")?,
                registry_object: c
                    .attribute("registryObject")
                    .unwrap_or(&core.id)
                    .to_string(),
                value: required(c, "value")?,
                name: localized(c, "Name"),
            }),
            _ => {}
        }
    }
    Ok(core)
}

fn classification(n: Node<'_, '_>) -> Result<Classification, Error> {
    Ok(Classification {
        id: required(n, "id")?,
        scheme: n.attribute("classificationScheme").map(str::to_string),
        node: n.attribute("classificationNode").map(str::to_string),
        classified_object: required(n, "classifiedObject")?,
        node_representation: n.attribute("nodeRepresentation").map(str::to_string),
        slots: slots(n),
        name: localized(n, "Name"),
    })
}

fn slots(n: Node<'_, '_>) -> Vec<Slot> {
    rim_children(n)
        .filter(|c| c.tag_name().name() == "Slot")
        .map(|s| Slot {
            name: s.attribute("name").unwrap_or_default().to_string(),
            values: rim_child(s, "ValueList")
                .map(|vl| {
                    rim_children(vl)
                        .filter(|v| v.tag_name().name() == "Value")
                        .map(|v| v.text().unwrap_or_default().trim().to_string())
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

fn localized(n: Node<'_, '_>, tag: &str) -> Option<String> {
    rim_child(n, tag)
        .and_then(|e| rim_child(e, "LocalizedString"))
        .and_then(|l| l.attribute("value"))
        .map(str::to_string)
}

fn rim_children<'a, 'i>(n: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children()
        .filter(|c| c.is_element() && c.tag_name().namespace() == Some(RIM))
}

fn rim_child<'a, 'i>(n: Node<'a, 'i>, tag: &str) -> Option<Node<'a, 'i>> {
    rim_children(n).find(|c| c.tag_name().name() == tag)
}

fn required(n: Node<'_, '_>, attr: &str) -> Result<String, Error> {
    n.attribute(attr)
        .map(str::to_string)
        .ok_or_else(|| Error::MissingAttribute {
            element: n.tag_name().name().to_string(),
            attribute: attr.to_string(),
        })
}
