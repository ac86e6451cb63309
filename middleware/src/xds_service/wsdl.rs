//! `GET …?wsdl`: the service description with this endpoint's address.

use axum::body::Body;
use axum::response::Response;
use http::{StatusCode, header};
use soap_wsdl::wsdl::{XDS_REGISTRY, XDS_REPOSITORY, render};

use super::Endpoint;
use crate::startup::AppState;

/// The WSDL of an endpoint, addressed at the host the caller used.
pub(super) fn response(state: &AppState, endpoint: Endpoint, host: &str) -> Response {
    let text = match endpoint {
        Endpoint::Registry => render(
            XDS_REGISTRY,
            &[("ADDRESS", &format!("https://{host}/xds/registry"))],
        ),
        Endpoint::Repository(i) => {
            let r = &state.xds.repositories[i];
            render(
                XDS_REPOSITORY,
                &[
                    (
                        "ADDRESS",
                        &format!("https://{host}/xds/repository/{}", r.name),
                    ),
                    ("NAME", &r.name),
                    ("REPOSITORY_ID", &r.unique_id),
                ],
            )
        }
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/xml; charset=UTF-8")
        .body(Body::from(text))
        .expect("valid response")
}
