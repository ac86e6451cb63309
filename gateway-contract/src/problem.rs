//! The gateway's error catalogue (contract §5.3–5.5): the `type` and `title` of each
//! kind, the status each exception path gives it, and the bodies of its answers.
//! The simulator answers with them; `fsemw validate` prints them.

use http::StatusCode;

/// Error kinds of the national gateway (`/msg/...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/msg/cda-element`
    CdaElement,
    /// `/msg/syntax`
    Syntax,
    /// `/msg/semantic`
    Semantic,
    /// `/msg/vocabulary`
    Vocabulary,
    /// `/msg/cda-match`
    CdaMatch,
    /// `/msg/empty-file`
    EmptyFile,
    /// `/msg/document-type`
    DocumentType,
    /// `/msg/document-hash`
    DocumentHash,
    /// `/msg/mandatory-element`
    MandatoryElement,
    /// `/msg/invalid-format`
    InvalidFormat,
    /// `/msg/mandatory-element-token`
    MandatoryElementToken,
    /// `/msg/jwt-validation`
    JwtValidation,
    /// `/msg/missing-token`
    MissingToken,
    /// `/msg/id-doc`
    IdDoc,
    /// `/msg/sign-error`
    SignError,
    /// `/msg/max-day-limit-exceed`
    MaxDayLimit,
    /// `/msg/record-not-found`
    RecordNotFound,
    /// `/msg/generic-error`
    GenericError,
    /// `/msg/generic-error` from a `BusinessException`: the generic handler's 500
    /// (`ControllerExceptionHandler.handleBusinessException` @ de019846).
    BusinessError,
    /// `/msg/unauthorized`
    Unauthorized,
    /// `/msg/wii`
    Wii,
    /// `/msg/validator` (the FHIR validator's refusal)
    FhirValidator,
    /// `/msg/validator` "Errore di validazione": the CDA validator's own refusal
    /// (`RestExecutionResultEnum.VALIDATOR_ERROR`), e.g. a template without a FHIR map.
    Validator,
    /// `/msg/workflow-id-error-extraction`
    WorkflowIdExtraction,
    /// `/msg/simulation-error` (the test environment's accreditation simulation)
    SimulationError,
    /// `/msg/generic-timeout`
    GenericTimeout,
}

/// Which exception path of the dispatcher produced the error (contract §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrPath {
    /// Validation errors (with `workflowInstanceId`).
    A,
    /// Publication errors.
    B,
    /// Raw validation exceptions (delete, metadata path id, status).
    C,
}

// === impl Kind ===

impl Kind {
    /// `type` and `title`.
    pub fn type_title(self) -> (&'static str, &'static str) {
        match self {
            Self::CdaElement => ("/msg/cda-element", "Errore in fase di estrazione del CDA."),
            Self::Syntax => ("/msg/syntax", "Errore di sintassi."),
            Self::Semantic => ("/msg/semantic", "Errore semantico."),
            Self::Vocabulary => ("/msg/vocabulary", "Errore vocabolario."),
            Self::CdaMatch => (
                "/msg/cda-match",
                "Errore in fase di recupero dell'esito della verifica.",
            ),
            Self::EmptyFile => ("/msg/empty-file", "File vuoto."),
            Self::DocumentType => ("/msg/document-type", "Il documento non è pdf."),
            Self::DocumentHash => ("/msg/document-hash", "Verifica hash fallita."),
            Self::MandatoryElement => {
                ("/msg/mandatory-element", "Campo obbligatorio non presente.")
            }
            Self::InvalidFormat => ("/msg/invalid-format", "Formato campo non valido."),
            Self::MandatoryElementToken => {
                ("/msg/mandatory-element-token", "Token JWT non valido.")
            }
            Self::JwtValidation => ("/msg/jwt-validation", "Campo token JWT non valido."),
            Self::MissingToken => ("/msg/missing-token", "Token non fornito."),
            Self::IdDoc => ("/msg/id-doc", "Campo id documento non valido"),
            // The handler re-derives the title from `RestExecutionResultEnum.SIGN_EXCEPTION`.
            Self::SignError => ("/msg/sign-error", "Sign error"),
            Self::MaxDayLimit => (
                "/msg/max-day-limit-exceed",
                "Error: document exceeded the maximum period to be published.",
            ),
            Self::RecordNotFound => ("/msg/record-not-found", "Record non trovato."),
            Self::GenericError | Self::BusinessError => ("/msg/generic-error", "Errore generico."),
            Self::Unauthorized => ("/msg/unauthorized", "Unauthorized access"),
            Self::Wii => ("/msg/wii", "Campo worflow instance id non valido"),
            Self::FhirValidator => ("/msg/validator", "Errore di validazione fhir"),
            Self::Validator => ("/msg/validator", "Errore di validazione"),
            Self::SimulationError => ("/msg/simulation-error", "Simulation Error."),
            Self::GenericTimeout => ("/msg/generic-timeout", "Generic timeout."),
            Self::WorkflowIdExtraction => (
                "/msg/workflow-id-error-extraction",
                "Errore in fase di estrazione del workflow id.",
            ),
        }
    }

    /// HTTP status on a given path.
    pub fn status(self, path: ErrPath) -> StatusCode {
        use Kind::*;
        let code = match (path, self) {
            (_, RecordNotFound) => 404,
            (_, GenericTimeout) => 504,
            (_, BusinessError) => 500,
            (_, Unauthorized) => 401,
            (ErrPath::A, Semantic) | (ErrPath::C, Semantic) => 422,
            (ErrPath::A, MandatoryElementToken | JwtValidation | MissingToken) => 403,
            (ErrPath::A, DocumentType) => 415,
            (ErrPath::B, MandatoryElementToken | JwtValidation) => 403,
            (ErrPath::C, MandatoryElementToken) => 401,
            (ErrPath::C, JwtValidation) => 403,
            _ => 400,
        };
        StatusCode::from_u16(code).expect("valid status")
    }
}

/// One error answer of the gateway.
#[derive(Debug, Clone)]
pub struct GtwError {
    /// Kind.
    pub kind: Kind,
    /// `detail`.
    pub detail: String,
    /// `instance`.
    pub instance: String,
}

/// The status service's answer to a lookup with no events, which the dispatcher passes on
/// (review S4, live it-fse-support #1493): the simulator's, and the middleware's for a
/// workflow that is not the caller's.
pub fn status_not_found_body() -> serde_json::Value {
    serde_json::json!({
        "type": "/err/resource", "title": "Resource error", "detail": "Record non trovato",
        "status": 404, "instance": "/not-found",
    })
}

/// Builds a [`GtwError`].
pub fn err(kind: Kind, detail: impl Into<String>, instance: impl Into<String>) -> GtwError {
    GtwError {
        kind,
        detail: detail.into(),
        instance: instance.into(),
    }
}

/// Which success DTO an answer is: the field order differs (Jackson writes the fields in
/// declaration order, after `traceID` and `spanID` of `ResponseDTO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `ValidationResDTO`: `workflowInstanceId`, then `warning`.
    Validation,
    /// `PublicationResDTO` (create, replace, validate-and-*) and `ResponseWifDTO` (delete,
    /// metadata): `warning`, then `workflowInstanceId`.
    Publication,
}

/// Where the error is being answered.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `traceID`: 32 hex characters (an OpenTelemetry trace id).
    pub trace_id: String,
    /// `spanID`: 16 hex characters, another id than the trace's.
    pub span_id: String,
    /// Error path.
    pub path: ErrPath,
    /// `workflowInstanceId` for path A errors.
    pub wii: Option<String>,
}

// === impl Answer ===

impl Answer {
    /// A fresh trace on `path`.
    pub fn new(path: ErrPath) -> Self {
        Self {
            trace_id: new_trace_id(),
            span_id: new_span_id(),
            path,
            wii: None,
        }
    }

    /// Status and problem document for `e`.
    pub fn error_body(&self, e: &GtwError) -> (StatusCode, serde_json::Value) {
        let (kind, title) = e.kind.type_title();
        let status = e.kind.status(self.path);
        let mut body = serde_json::json!({
            "traceID": self.trace_id, "spanID": self.span_id, "type": kind, "title": title,
            "detail": e.detail, "status": status.as_u16(), "instance": e.instance,
        });
        // Generic errors are not `ValidationException`s: the plain `ErrorResponseDTO`.
        // An empty id is left out (`ValidationErrorResponseDTO` sets null for an empty one).
        let wii = self
            .wii
            .clone()
            .unwrap_or_else(|| "UNKNOWN_WORKFLOW_ID".into());
        if self.path == ErrPath::A && e.kind != Kind::GenericError && !wii.is_empty() {
            body["workflowInstanceId"] = wii.into();
        }
        (status, body)
    }

    /// A success body of `shape`; absent values are left out (the dispatcher omits nulls).
    pub fn success_body(
        &self,
        shape: Shape,
        wii: Option<&str>,
        warning: Option<&str>,
    ) -> serde_json::Value {
        let mut body = serde_json::json!({ "traceID": self.trace_id, "spanID": self.span_id });
        let fields = match shape {
            Shape::Validation => [("workflowInstanceId", wii), ("warning", warning)],
            Shape::Publication => [("warning", warning), ("workflowInstanceId", wii)],
        };
        for (name, value) in fields {
            if let Some(v) = value {
                body[name] = v.into();
            }
        }
        body
    }
}

/// 32 hex characters, like the gateway's OpenTelemetry trace ids.
pub fn new_trace_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// 16 hex characters, like the gateway's OpenTelemetry span ids.
pub fn new_span_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_string()
}
