-- One row per producer request, accepted or not. No clinical content: the file
-- is represented by its SHA-256 and size, the patient by a keyed hash of the CF.
CREATE TABLE transactions (
    tx_id                UUID PRIMARY KEY,
    received_at          TIMESTAMPTZ NOT NULL,
    producer_id          BIGINT REFERENCES producers (id),
    client_cn            TEXT,
    application_id       TEXT,
    application_vendor   TEXT,
    application_version  TEXT,
    operation            TEXT NOT NULL,
    method               TEXT NOT NULL,
    path                 TEXT NOT NULL,
    http_status          INTEGER NOT NULL,
    outcome              TEXT NOT NULL,
    problem_type         TEXT,
    problem_title        TEXT,
    gtw_trace_id         TEXT,
    gtw_span_id          TEXT,
    workflow_instance_id TEXT,
    document_id          TEXT,
    file_sha256          TEXT,
    file_bytes           BIGINT,
    patient_cf_hmac      TEXT,
    certificate_case     SMALLINT NOT NULL,
    local_warnings       TEXT,
    duration_ms          DOUBLE PRECISION NOT NULL,
    gtw_duration_ms      DOUBLE PRECISION
);
CREATE INDEX transactions_received_at ON transactions (received_at);
CREATE INDEX transactions_trace ON transactions (gtw_trace_id);
CREATE INDEX transactions_wii ON transactions (workflow_instance_id);
CREATE INDEX transactions_document ON transactions (document_id);
CREATE INDEX transactions_patient ON transactions (patient_cf_hmac);
CREATE INDEX transactions_producer ON transactions (producer_id, received_at);
