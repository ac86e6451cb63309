-- Registered producer applications. A producer is identified by the CN of its
-- TLS client certificate; the accredited triplet is what its JWTs must carry.
CREATE TABLE producers (
    id                  BIGSERIAL PRIMARY KEY,
    cert_cn             TEXT NOT NULL UNIQUE,
    application_id      TEXT NOT NULL,
    application_vendor  TEXT NOT NULL,
    application_version TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('producer', 'repository')),
    organization        TEXT NOT NULL,
    signing_cert_pem    TEXT,
    enabled             BOOLEAN NOT NULL DEFAULT TRUE,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    disabled_at         TIMESTAMPTZ
);
