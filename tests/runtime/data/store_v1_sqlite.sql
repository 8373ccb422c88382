-- A store written by the release before versioned migrations (schema "version 1"), with one
-- pending, one processed and one dead-lettered event. Captured from that release's SQLite schema.
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    event TEXT NOT NULL,
    identity_type TEXT,
    identity_value TEXT,
    payload TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    idempotency_key TEXT,
    body_hash TEXT,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processed', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error TEXT,
    UNIQUE (project_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS events_pending ON events (received_at, id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS events_received ON events (project_id, received_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    event_id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    dead_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_project ON dead_letters (project_id, dead_at);
INSERT INTO events VALUES ('0190f3a0-0000-7000-8000-000000000001', 'acme', 'order.completed', 'contact_id', 'c-1',
    '{"order_id":"ord_1"}', '2026-11-01T10:00:00.000000Z', '2026-11-01T10:00:00.000000Z', 'key-1', 'aa', 'pending', 0, NULL, NULL);
INSERT INTO events VALUES ('0190f3a0-0000-7000-8000-000000000002', 'acme', 'order.completed', 'contact_id', 'c-2',
    '{"order_id":"ord_2"}', '2026-11-01T10:00:01.000000Z', '2026-11-01T10:00:01.000000Z', NULL, NULL, 'processed', 1, NULL, NULL);
INSERT INTO events VALUES ('0190f3a0-0000-7000-8000-000000000003', 'acme', 'order.completed', 'contact_id', 'c-3',
    '{"order_id":"ord_3"}', '2026-11-01T10:00:02.000000Z', '2026-11-01T10:00:02.000000Z', NULL, NULL, 'dead', 5, NULL, 'boom');
INSERT INTO dead_letters VALUES ('0190f3a0-0000-7000-8000-000000000003', 'acme', 'order.completed',
    '{"order_id":"ord_3"}', 5, 'boom', '2026-11-01T10:05:00.000000Z');
