//! XDSDocumentEntry.uniqueId and repositoryUniqueId values.
//!
//! The Italian Affinity Domain writes a document id as `<OID>^<extension>`
//! (e.g. `2.16.840.1.113883.2.9.2.160.4.4^290700`) and a repository id as a bare OID.

use crate::Error;

/// Checks a dotted-decimal OID: digits separated by single dots, no leading zeros.
pub fn check_oid(value: &str) -> Result<(), Error> {
    let ok = !value.is_empty()
        && value.split('.').all(|arc| {
            !arc.is_empty()
                && arc.bytes().all(|b| b.is_ascii_digit())
                && (arc == "0" || !arc.starts_with('0'))
        });
    if ok {
        Ok(())
    } else {
        Err(Error::NotAnOid(value.to_string()))
    }
}

/// A document unique id split into its OID root and extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentUniqueId<'a> {
    /// The assigning authority OID.
    pub root: &'a str,
    /// The local identifier.
    pub extension: &'a str,
}

/// Splits `root^extension`, checking the root is an OID and the extension is not empty.
pub fn parse_document_unique_id(value: &str) -> Result<DocumentUniqueId<'_>, Error> {
    let (root, extension) = value
        .split_once('^')
        .ok_or_else(|| Error::NotAUniqueId(value.to_string()))?;
    if extension.is_empty() {
        return Err(Error::NotAUniqueId(value.to_string()));
    }
    check_oid(root)?;
    Ok(DocumentUniqueId { root, extension })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_and_unique_ids() {
        assert!(check_oid("2.16.840.1.113883.2.9.2.160.4.5.1").is_ok());
        assert!(check_oid("2.16..840").is_err());
        assert!(check_oid("2.016").is_err());
        assert!(check_oid(" 2.16").is_err());
        let id = parse_document_unique_id("2.16.840.1.113883.2.9.2.160.4.4^290700").unwrap();
        assert_eq!(id.root, "2.16.840.1.113883.2.9.2.160.4.4");
        assert_eq!(id.extension, "290700");
        assert!(parse_document_unique_id("507f1f77bcf86cd799439011").is_err());
        assert!(parse_document_unique_id("2.16^").is_err());
    }
}
