//! The request and response bodies of the XDS.b transactions.

pub mod query;
pub mod remove;
pub mod response;
pub mod retrieve;
pub mod submit;

use roxmltree::Node;

use crate::Error;

/// Checks the body element is `ns:local`.
pub(crate) fn expect<'a, 'i>(
    body: Node<'a, 'i>,
    ns: &str,
    local: &'static str,
) -> Result<Node<'a, 'i>, Error> {
    if body.tag_name().namespace() == Some(ns) && body.tag_name().name() == local {
        Ok(body)
    } else {
        Err(Error::UnexpectedElement {
            expected: local,
            found: body.tag_name().name().to_string(),
        })
    }
}

/// The first child element with this namespace and local name.
pub(crate) fn child<'a, 'i>(n: Node<'a, 'i>, ns: &str, local: &str) -> Option<Node<'a, 'i>> {
    n.children().find(|c| {
        c.is_element() && c.tag_name().namespace() == Some(ns) && c.tag_name().name() == local
    })
}

/// Every child element with this namespace and local name.
pub(crate) fn children<'a, 'i: 'a>(
    n: Node<'a, 'i>,
    ns: &'a str,
    local: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    n.children().filter(move |c| {
        c.is_element() && c.tag_name().namespace() == Some(ns) && c.tag_name().name() == local
    })
}
