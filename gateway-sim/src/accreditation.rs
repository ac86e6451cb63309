//! The accreditation simulation of the gateway's test environment
//! (`accreditation.enable-check=true`, the dispatcher's default in `application.properties`
//! @ de019846; `AccreditamentoSimulationSRV.runSimulation`, `AccreditamentoPrefixEnum`,
//! called by `PublicationCTL.publicationAndReplaceValidation` — create, replace and their
//! validate-and- forms — after the file checks and before the signature). Producers accredit against it: the prefixes of a document id
//! simulate a timeout or skip the validation, and a replace first asks the status service
//! whether the document has events.

use super::handlers::Stop;
use super::respond;
use super::store::Store;
use gateway_contract::problem::{GtwError, Kind, err};
use http::StatusCode;

/// The prefixes, in the enum's order (the first that starts the id wins).
const PREFIXES: [(&str, Simulation); 5] = [
    ("CRASH_TIMEOUT", Simulation::Timeout),
    ("SKIP_VALIDATION", Simulation::SkipValidation),
    ("CRASH_WF_EDS", Simulation::SkipValidation),
    ("CRASH_INI", Simulation::SkipValidation),
    ("CRASH_EDS", Simulation::SkipValidation),
];

/// The replace id that skips the status service's lookup.
const TRIAL_ID: &str = "TRIAL_ID_SKIP_ACCREDITATIONCHECK";

/// What the id asks the simulation for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Simulation {
    /// No prefix: the publication goes on as usual.
    None,
    /// `CRASH_TIMEOUT`: 504 `/msg/generic-timeout`.
    Timeout,
    /// `SKIP_VALIDATION`, `CRASH_*`: the validation record is made on the spot.
    SkipValidation,
}

/// Runs the simulation for `id` (the replaced document's id on a replace, else the body's).
pub fn run(store: &Store, id: &str, replace: bool) -> Result<Simulation, Stop> {
    // The status service's search by document id counts its accepted publications and
    // replacements only (status-check `TransactionInspectRepo` @ 0f4b96c).
    let published = |e: &crate::store::Event| {
        e.identificativo_documento.as_deref() == Some(id)
            && matches!(e.event_type.as_str(), "PUBLICATION" | "REPLACE")
            && e.event_status == "SUCCESS"
    };
    if replace && id != TRIAL_ID && !store.events.iter().any(published) {
        return Err(Stop::Ready(Box::new(document_not_found())));
    }
    let Some((prefix, simulation)) = PREFIXES.iter().find(|(p, _)| id.starts_with(p)) else {
        return Ok(Simulation::None);
    };
    if java_split_len(id, prefix) <= 1 {
        return Err(err(
            Kind::SimulationError,
            "Inserire una string randomica dopo l'id documento",
            "/msg/simulation-error",
        )
        .into());
    }
    if *simulation == Simulation::Timeout {
        return Err(timeout().into());
    }
    Ok(*simulation)
}

/// What the producer gets for a timeout (`ErrorHandlerSRV.connectionRefusedExceptionHandler`:
/// the title as detail, no instance).
pub fn timeout() -> GtwError {
    err(Kind::GenericTimeout, "Generic timeout.", "")
}

/// The status service's answer for a document without events, passed on by the dispatcher
/// (live it-fse-support #1422, #1612, #2262).
fn document_not_found() -> axum::response::Response {
    let body = serde_json::json!({
        "type": "/err/resource", "title": "Resource error", "detail": "Id documento non presente",
        "status": 404, "instance": "/not-found",
    });
    respond::json_response(StatusCode::NOT_FOUND, &body, "application/problem+json")
}

/// The length of Java's `id.split(prefix)`: trailing empty pieces are dropped.
fn java_split_len(id: &str, prefix: &str) -> usize {
    let pieces: Vec<&str> = id.split(prefix).collect();
    pieces
        .iter()
        .rposition(|p| !p.is_empty())
        .map_or(0, |last| last + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_needs_something_after_it() {
        assert_eq!(java_split_len("CRASH_INI", "CRASH_INI"), 0);
        assert_eq!(java_split_len("CRASH_INI^", "CRASH_INI"), 2);
        assert_eq!(java_split_len("CRASH_INIxCRASH_INI", "CRASH_INI"), 2);
        let store = Store::default();
        assert_eq!(
            run(&store, "SKIP_VALIDATION^1", false).ok(),
            Some(Simulation::SkipValidation)
        );
        assert_eq!(run(&store, "2.16^1", false).ok(), Some(Simulation::None));
        let Err(Stop::Gtw(e)) = run(&store, "CRASH_TIMEOUT", false) else {
            panic!("a bare prefix is a simulation error");
        };
        assert_eq!(e.instance, "/msg/simulation-error");
    }

    #[test]
    fn a_replace_needs_events_of_its_document_unless_it_is_the_trial_id() {
        let store = Store::default();
        assert!(matches!(run(&store, "2.16^1", true), Err(Stop::Ready(_))));
        assert_eq!(run(&store, TRIAL_ID, true).ok(), Some(Simulation::None));
    }
}
