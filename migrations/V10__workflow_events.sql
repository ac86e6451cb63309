-- The workflow status events the national gateway pushes to the region's touchpoint
-- (spec 2.22 §11.3, `swagger_status.yaml`): each kept once however often, and in whatever
-- order, it arrives; read back in event-time order.
CREATE TABLE workflow_events (
    id BIGSERIAL PRIMARY KEY,
    workflow_instance_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    event_status TEXT NOT NULL,
    event_date TIMESTAMPTZ NOT NULL,
    issuer TEXT,
    message TEXT,
    -- How it came: 'push' (the touchpoint).
    source TEXT NOT NULL,
    -- The subject CN of the certificate that pushed it.
    received_from TEXT,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (workflow_instance_id, event_type, event_status, event_date)
);
CREATE INDEX workflow_events_by_arrival ON workflow_events (received_at);
