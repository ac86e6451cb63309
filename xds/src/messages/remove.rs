//! `lcm:RemoveObjectsRequest` (ITI-62 and INI's delete action).

use roxmltree::Node;

use super::{child, children, expect};
use crate::Error;
use crate::ns::{LCM, RIM};

/// The entryUUIDs to remove.
pub fn parse_remove(body: Node<'_, '_>) -> Result<Vec<String>, Error> {
    let req = expect(body, LCM, "RemoveObjectsRequest")?;
    let list =
        child(req, RIM, "ObjectRefList").ok_or(Error::MissingElement("rim:ObjectRefList"))?;
    children(list, RIM, "ObjectRef")
        .map(|r| {
            r.attribute("id")
                .map(str::to_string)
                .ok_or_else(|| Error::MissingAttribute {
                    element: "ObjectRef".into(),
                    attribute: "id".into(),
                })
        })
        .collect()
}
