-- What the help desk's support bundle needs: the request's JSON part and the answer
-- returned (each capped at 64 KiB by the middleware) …
ALTER TABLE transactions ADD COLUMN request_body TEXT;
ALTER TABLE transactions ADD COLUMN response_body TEXT;
-- The document type (LOINC code of resource_hl7_type), for the rejection reports.
ALTER TABLE transactions ADD COLUMN document_type TEXT;
CREATE INDEX transactions_operation ON transactions (operation, received_at);

-- … and, for `audit.document_retention_days`, the CDA of a publication (clinical content:
-- read only through the authenticated console, each read recorded in console_audit).
CREATE TABLE transaction_documents (
    tx_id     UUID PRIMARY KEY,
    cda       TEXT NOT NULL,
    stored_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX transaction_documents_age ON transaction_documents (stored_at);

-- Who did what in the operations console (sign-ins, support bundles, manual retries).
CREATE TABLE console_audit (
    id       BIGSERIAL PRIMARY KEY,
    at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    username TEXT NOT NULL,
    action   TEXT NOT NULL,
    subject  TEXT
);
CREATE INDEX console_audit_at ON console_audit (at);
