//! Headers of the gateway's answers that belong to its contract with producers.

/// GovWay's identifiers of an answer, which producers quote to national support
/// (it-fse-support #62, #76, #524 via `gateway-fidelity-review.md` row M4): the middleware
/// passes them back unchanged.
pub const GOVWAY_ANSWER_HEADERS: [&str; 3] = [
    "govway-transaction-id",
    "govway-message-id",
    "govway-transaction-errortype",
];

/// The answer headers the middleware passes back: the content type, GovWay's ids, and
/// GovWay's `WWW-Authenticate` of a refused token (live it-fse-support #742), which names
/// the token that failed.
pub const RELAYED_ANSWER_HEADERS: [&str; 5] = [
    "content-type",
    "govway-transaction-id",
    "govway-message-id",
    "govway-transaction-errortype",
    "www-authenticate",
];

/// A media type without its parameters, lower-cased (`Multipart/Form-Data; boundary=x` →
/// `multipart/form-data`).
pub fn media_essence(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Whether a media type is JSON (`application/json` or a `+json` suffix).
pub fn is_json(value: &str) -> bool {
    let essence = media_essence(value);
    essence == "application/json" || essence.ends_with("+json")
}
