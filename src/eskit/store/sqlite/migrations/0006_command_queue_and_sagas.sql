-- Commands accepted now and handled later, committed with whatever queued them. A worker
-- claims due ones for a lease (status 'running', lease_until); one that dies loses it and
-- another claims the command again. Times are ISO-8601 UTC text, which sorts as time.
CREATE TABLE eskit_command_queue (
    id           TEXT    PRIMARY KEY,
    command_type TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    metadata     TEXT    NOT NULL,
    key          TEXT,
    status       TEXT    NOT NULL
        CHECK (status IN ('queued', 'running', 'done', 'refused', 'dead')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    available_at TEXT    NOT NULL,
    enqueued_at  TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    lease_until  TEXT,
    outcome      TEXT,
    error        TEXT
);

-- Claiming reads the due commands in due order.
CREATE INDEX eskit_command_queue_due ON eskit_command_queue (status, available_at);

-- One live command per key (a saga's deadline): a finished one frees its key.
CREATE UNIQUE INDEX eskit_command_queue_live_key ON eskit_command_queue (key)
    WHERE key IS NOT NULL AND status IN ('queued', 'running');

-- Saga instances, written by compare-and-set on version in the transaction of the events
-- they handled and the commands they issued.
CREATE TABLE eskit_sagas (
    saga           TEXT    NOT NULL,
    correlation_id TEXT    NOT NULL,
    status         TEXT    NOT NULL
        CHECK (status IN ('running', 'completed', 'compensating', 'compensated', 'failed')),
    step           TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    version        INTEGER NOT NULL CHECK (version > 0),
    started_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    reason         TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (saga, correlation_id)
) WITHOUT ROWID;

-- Operators list a saga's instances by status, least recently updated first (stuck ones).
CREATE INDEX eskit_sagas_by_status ON eskit_sagas (saga, status, updated_at);
