//! SOAP protocol versions.

use crate::Error;

/// The two SOAP versions the legacy services accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapVersion {
    /// SOAP 1.1 (`text/xml`).
    V11,
    /// SOAP 1.2 (`application/soap+xml`).
    V12,
}

// === impl SoapVersion ===

impl SoapVersion {
    /// The envelope namespace URI.
    pub fn envelope_ns(self) -> &'static str {
        match self {
            Self::V11 => "http://schemas.xmlsoap.org/soap/envelope/",
            Self::V12 => "http://www.w3.org/2003/05/soap-envelope",
        }
    }

    /// The media type of a plain envelope (and the `type`/`start-info` of MTOM).
    pub fn content_type(self) -> &'static str {
        match self {
            Self::V11 => "text/xml",
            Self::V12 => "application/soap+xml",
        }
    }

    /// The version an envelope namespace denotes.
    pub fn from_envelope_ns(ns: &str) -> Result<Self, Error> {
        match ns {
            "http://schemas.xmlsoap.org/soap/envelope/" => Ok(Self::V11),
            "http://www.w3.org/2003/05/soap-envelope" => Ok(Self::V12),
            other => Err(Error::UnknownEnvelope(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_round_trip() {
        for v in [SoapVersion::V11, SoapVersion::V12] {
            assert_eq!(SoapVersion::from_envelope_ns(v.envelope_ns()).unwrap(), v);
        }
        assert!(SoapVersion::from_envelope_ns("urn:x").is_err());
    }
}
