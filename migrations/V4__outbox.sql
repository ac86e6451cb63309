-- Publications accepted while the national gateway could not be reached: sent again,
-- in order per document, by the recovery worker of any replica (leases + SKIP LOCKED).
CREATE TABLE outbox (
    id                   BIGSERIAL PRIMARY KEY,
    tx_id                UUID NOT NULL UNIQUE,
    -- Every transaction that asked for this delivery: a producer that lost the 202
    -- (connection cut) and sent the same request again is attached here.
    tx_ids               UUID[] NOT NULL,
    producer_id          BIGINT REFERENCES producers (id),
    operation            TEXT NOT NULL,
    -- The operation asked for (operation may become validate_and_create/replace).
    requested_operation  TEXT NOT NULL,
    -- SHA-256 of what identifies the request: requestBody + file, or the JSON body.
    request_sha256       TEXT NOT NULL,
    method               TEXT NOT NULL,
    -- Gateway path relative to its base URL, query included.
    path                 TEXT NOT NULL,
    -- Content-Type and the producer's tokens as received.
    headers              JSONB NOT NULL,
    body                 BYTEA NOT NULL,
    -- Requests for one document are delivered one after the other.
    ordering_key         TEXT NOT NULL,
    document_id          TEXT,
    workflow_instance_id TEXT,
    -- Whether the provisional local indexing ran (the worker runs it if a crash did not).
    indexed              BOOLEAN NOT NULL DEFAULT FALSE,
    state                TEXT NOT NULL DEFAULT 'pending'
                         CHECK (state IN ('pending', 'sending', 'delivered', 'failed')),
    attempts             INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until          TIMESTAMPTZ,
    leased_by            TEXT,
    last_error           TEXT,
    final_status         INTEGER,
    final_body           TEXT,
    -- What happened, in order: [{eventType, eventDate, eventStatus, message}].
    events               JSONB NOT NULL DEFAULT '[]',
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at          TIMESTAMPTZ
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE state IN ('pending', 'sending');
CREATE INDEX outbox_ordering ON outbox (ordering_key, id);
CREATE INDEX outbox_wii ON outbox (workflow_instance_id);
CREATE INDEX outbox_state ON outbox (state);
-- The same request, still waiting, is queued once.
CREATE UNIQUE INDEX outbox_same_request ON outbox (producer_id, requested_operation, ordering_key, request_sha256)
    WHERE state IN ('pending', 'sending');

-- The delivery of a queued publication, on the row of the request that queued it.
ALTER TABLE transactions ADD COLUMN delivery TEXT;
ALTER TABLE transactions ADD COLUMN delivery_status INTEGER;
ALTER TABLE transactions ADD COLUMN delivered_at TIMESTAMPTZ;
