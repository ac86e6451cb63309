-- The regional XDS registry (ebRIM objects indexed for the stored queries) and the
-- document repositories of the ASLs. Each object keeps its ebRIM XML as registered
-- (ids resolved to UUIDs); the columns beside it are the indexed metadata.

CREATE TABLE xds_document_entry (
    entry_uuid            TEXT PRIMARY KEY,
    lid                   TEXT NOT NULL,
    version               INTEGER NOT NULL DEFAULT 1,
    unique_id             TEXT NOT NULL,
    patient_id            TEXT NOT NULL,
    status                TEXT NOT NULL,
    repository_unique_id  TEXT,
    hash                  TEXT,
    size                  BIGINT,
    mime_type             TEXT NOT NULL,
    creation_time         TEXT,
    service_start_time    TEXT,
    service_stop_time     TEXT,
    class_code            TEXT,
    type_code             TEXT,
    format_code           TEXT,
    practice_setting_code TEXT,
    facility_type_code    TEXT,
    confidentiality_codes TEXT[] NOT NULL DEFAULT '{}',
    event_codes           TEXT[] NOT NULL DEFAULT '{}',
    author_persons        TEXT[] NOT NULL DEFAULT '{}',
    reference_ids         TEXT[] NOT NULL DEFAULT '{}',
    -- Indexed locally while the gateway could not be reached; INI's metadata replaces it.
    provisional           BOOLEAN NOT NULL DEFAULT FALSE,
    source                TEXT NOT NULL,
    registered_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    xml                   TEXT NOT NULL
);
CREATE INDEX xds_document_entry_patient ON xds_document_entry (patient_id, status, creation_time);
CREATE INDEX xds_document_entry_unique ON xds_document_entry (unique_id);
CREATE INDEX xds_document_entry_lid ON xds_document_entry (lid);
CREATE INDEX xds_document_entry_class ON xds_document_entry (patient_id, class_code);
CREATE INDEX xds_document_entry_type ON xds_document_entry (patient_id, type_code);
-- One Approved version per logical document.
CREATE UNIQUE INDEX xds_document_entry_approved_lid ON xds_document_entry (lid)
    WHERE status = 'urn:oasis:names:tc:ebxml-regrep:StatusType:Approved';

-- SubmissionSets and Folders.
CREATE TABLE xds_package (
    entry_uuid        TEXT PRIMARY KEY,
    kind              TEXT NOT NULL CHECK (kind IN ('SubmissionSet', 'Folder')),
    unique_id         TEXT NOT NULL UNIQUE,
    patient_id        TEXT NOT NULL,
    status            TEXT NOT NULL,
    source_id         TEXT,
    submission_time   TEXT,
    content_type_code TEXT,
    author_persons    TEXT[] NOT NULL DEFAULT '{}',
    provisional       BOOLEAN NOT NULL DEFAULT FALSE,
    source            TEXT NOT NULL,
    registered_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    xml               TEXT NOT NULL
);
CREATE INDEX xds_package_patient ON xds_package (patient_id, kind, status);

CREATE TABLE xds_association (
    entry_uuid       TEXT PRIMARY KEY,
    association_type TEXT NOT NULL,
    source_uuid      TEXT NOT NULL,
    target_uuid      TEXT NOT NULL,
    status           TEXT NOT NULL,
    xml              TEXT NOT NULL
);
CREATE INDEX xds_association_source ON xds_association (source_uuid);
CREATE INDEX xds_association_target ON xds_association (target_uuid);

-- Repository content: immutable once stored.
CREATE TABLE xds_repository_document (
    repository_unique_id TEXT NOT NULL,
    document_unique_id   TEXT NOT NULL,
    mime_type            TEXT NOT NULL,
    sha1_hex             TEXT NOT NULL,
    size                 BIGINT NOT NULL,
    content              BYTEA NOT NULL,
    stored_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (repository_unique_id, document_unique_id)
);
CREATE FUNCTION xds_repository_document_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'repository documents are immutable';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER xds_repository_document_no_update
    BEFORE UPDATE ON xds_repository_document
    FOR EACH ROW EXECUTE FUNCTION xds_repository_document_immutable();
