//! `xs:dateTime` values as SAML assertions and WS-Security timestamps carry them, read
//! strictly: RFC 3339 with a time-zone offset (`Z` or `±hh:mm`). A value without an
//! offset has no instant (XML Schema leaves it "local"), so it is refused rather than given
//! a zone; so is anything else that does not parse. A check that skipped an unreadable
//! time would fail open.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The instant `text` names (surrounding white space ignored, as `xs:dateTime` collapses
/// it); `None` when it is not an RFC 3339 time with an offset.
pub fn instant(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_is_required() {
        assert!(instant("2026-12-03T10:00:00Z").is_some());
        assert!(instant(" 2026-12-03T10:00:00.123+01:00 ").is_some());
        for bad in [
            "2026-12-03T10:00:00",
            "2026-12-03",
            "2026-12-03T10:00:00Z<!-- -->",
            "",
            "domani",
        ] {
            assert!(instant(bad).is_none(), "{bad}");
        }
    }
}
