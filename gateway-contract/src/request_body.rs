//! The `requestBody` part of the gateway's multipart requests (contract §3): the fields of
//! each DTO and the values of its enumerated fields.

/// The fields of `ValidationCDAReqDTO`, in the order the dispatcher checks them.
pub const VALIDATION_FIELDS: [&str; 3] = ["healthDataFormat", "mode", "activity"];
/// The fields of the publication DTOs (`PublicationCreationReqDTO`,
/// `PublicationUpdateReqDTO`), in the order the dispatcher checks them.
pub const PUBLICATION_FIELDS: [&str; 16] = [
    "workflowInstanceId",
    "healthDataFormat",
    "mode",
    "tipologiaStruttura",
    "attiCliniciRegoleAccesso",
    "identificativoDoc",
    "identificativoRep",
    "tipoDocumentoLivAlto",
    "assettoOrganizzativo",
    "dataInizioPrestazione",
    "dataFinePrestazione",
    "conservazioneANorma",
    "tipoAttivitaClinica",
    "identificativoSottomissione",
    "descriptions",
    "administrativeRequest",
];
/// `tipologiaStruttura` values.
pub const TIPOLOGIA_STRUTTURA: [&str; 6] = [
    "Ospedale",
    "Prevenzione",
    "Territorio",
    "SistemaTS",
    "Cittadino",
    "MdsPN_DGC",
];
/// `tipoAttivitaClinica` values.
pub const TIPO_ATTIVITA_CLINICA: [&str; 8] = [
    "PHR",
    "CON",
    "DIS",
    "ERP",
    "Sistema_TS",
    "INI",
    "PN_DGC",
    "OBS",
];
/// `tipoDocumentoLivAlto` values.
pub const TIPO_DOCUMENTO_LIV_ALTO: [&str; 16] = [
    "WOR", "REF", "LDO", "RIC", "SUM", "TAC", "PRS", "PRE", "ESE", "PDC", "VAC", "CER", "VRB",
    "CON", "CNT", "CRT",
];
/// `administrativeRequest` values.
pub const ADMINISTRATIVE_REQUEST: [&str; 6] = ["SSN", "INPATIENT", "NOSSN", "SSR", "DONOR", "AUTO"];
