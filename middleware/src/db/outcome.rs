//! What became of a transaction, as its audit row says (`transactions.outcome`).

/// The outcome of one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum Outcome {
    /// Not decided yet (a row is never written so).
    #[default]
    Pending,
    /// REST: the gateway's answer was relayed (whatever its status).
    Forwarded,
    /// SOAP / XDS, or a status answered from the middleware's trail: served.
    Success,
    /// XDS: some documents stored, others refused.
    Partial,
    /// XDS: refused.
    Failure,
    /// SOAP: answered with a fault.
    Fault,
    /// A publication kept for delivery while the gateway cannot be reached.
    Queued,
    /// The producer was refused (certificate, CN, registry, tokens).
    Refused,
    /// The gateway could not be reached and nothing was kept.
    GatewayUnreachable,
    /// The body was over the limit.
    TooLarge,
    /// The body stopped before its end.
    IncompleteBody,
    /// No such path or resource.
    NotFound,
    /// The database could not be reached.
    Unavailable,
    /// The regional keys could not be used.
    KeysUnavailable,
    /// A defect of the middleware.
    InternalError,
}

impl Outcome {
    const ALL: [Outcome; 15] = [
        Self::Pending,
        Self::Forwarded,
        Self::Success,
        Self::Partial,
        Self::Failure,
        Self::Fault,
        Self::Queued,
        Self::Refused,
        Self::GatewayUnreachable,
        Self::TooLarge,
        Self::IncompleteBody,
        Self::NotFound,
        Self::Unavailable,
        Self::KeysUnavailable,
        Self::InternalError,
    ];

    /// The stored text (`forwarded`, `queued`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "",
            Self::Forwarded => "forwarded",
            Self::Success => "success",
            Self::Partial => "partial",
            Self::Failure => "failure",
            Self::Fault => "fault",
            Self::Queued => "queued",
            Self::Refused => "refused",
            Self::GatewayUnreachable => "gateway_unreachable",
            Self::TooLarge => "too_large",
            Self::IncompleteBody => "incomplete_body",
            Self::NotFound => "not_found",
            Self::Unavailable => "unavailable",
            Self::KeysUnavailable => "keys_unavailable",
            Self::InternalError => "internal_error",
        }
    }

    /// The outcome a stored text names (`None` for a text this version does not write).
    pub fn from_stored(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

impl From<Outcome> for &'static str {
    fn from(o: Outcome) -> Self {
        o.as_str()
    }
}

impl TryFrom<String> for Outcome {
    type Error = String;

    /// JSON rows (the audit journal, `tx show --json`) carry the stored text; a text this
    /// version does not know is refused, so that a journal row holding it is set aside,
    /// not rewritten.
    fn try_from(text: String) -> Result<Self, String> {
        Self::from_stored(&text).ok_or_else(|| format!("unknown outcome {text:?}"))
    }
}

/// Written as its text (`transactions.outcome` is `TEXT`).
impl tokio_postgres::types::ToSql for Outcome {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.as_str().to_sql(ty, out)
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <&str as tokio_postgres::types::ToSql>::accepts(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_reads_back_from_its_text() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::from_stored(o.as_str()), Some(o));
        }
        assert_eq!(Outcome::from_stored("surprise"), None);
    }
}
