-- The id the route's {id} stands for (the replaced, deleted or updated document), read by
-- the route's template when the request arrived: the worker needs it again and cannot
-- tell it from a configured path.
ALTER TABLE outbox ADD COLUMN path_id TEXT;
