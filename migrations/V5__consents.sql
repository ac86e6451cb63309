-- Patient consents recorded through IGestoreConsensoService: every change is a row (the
-- history); the state in force is the latest row per patient and consent code.
CREATE TABLE consents (
    id              BIGSERIAL PRIMARY KEY,
    patient_cf      TEXT NOT NULL,
    code            TEXT NOT NULL CHECK (code IN ('C1', 'C2', 'C3', 'C4')),
    granted         BOOLEAN NOT NULL,
    valid_from      DATE NOT NULL,
    note            TEXT,
    operator_cf     TEXT NOT NULL,
    operator_role   TEXT,
    application     TEXT NOT NULL,
    asl             TEXT NOT NULL,
    tx_id           UUID NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX consents_patient ON consents (patient_cf, code, id DESC);
