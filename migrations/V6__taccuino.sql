-- The patient's personal notebook (ITaccuinoService): entries of every kind, and personal
-- documents. Deleting an entry keeps its row (deleted_at) for the audit trail.
CREATE TABLE notebook_entries (
    id           BIGSERIAL PRIMARY KEY,
    patient_cf   TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('rilevazione', 'sintomo', 'dolore', 'dieta',
                 'farmaco', 'evento', 'contatto', 'nota', 'documento')),
    entry_date   DATE NOT NULL,
    text         TEXT,
    value        TEXT,
    unit         TEXT,
    title        TEXT,
    mime_type    TEXT,
    content      BYTEA,
    sha1_hex     TEXT,
    application  TEXT NOT NULL,
    asl          TEXT NOT NULL,
    tx_id        UUID NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    deleted_at   TIMESTAMPTZ
);
CREATE INDEX notebook_entries_patient ON notebook_entries (patient_cf, kind, entry_date DESC);
