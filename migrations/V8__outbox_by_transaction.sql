-- A queued publication is found by any transaction that sent it (the traceID of its
-- queued answer): GET /status/search/{traceID} answers from here.
CREATE INDEX outbox_tx_ids ON outbox USING gin (tx_ids);
