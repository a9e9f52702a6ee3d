-- Commands accepted now and handled later, committed with whatever queued them. A worker
-- claims due ones for a lease (status 'running', lease_until) with FOR UPDATE SKIP LOCKED;
-- one that dies loses its lease and another claims the command again.
CREATE TABLE eskit_command_queue (
    id           uuid        PRIMARY KEY,
    command_type text        NOT NULL,
    payload      text        NOT NULL,
    metadata     jsonb       NOT NULL,
    key          text,
    status       text        NOT NULL
        CHECK (status IN ('queued', 'running', 'done', 'refused', 'dead')),
    attempts     integer     NOT NULL DEFAULT 0,
    available_at timestamptz NOT NULL,
    enqueued_at  timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    lease_until  timestamptz,
    outcome      jsonb,
    error        text
);

-- Claiming reads the due commands in due order.
CREATE INDEX eskit_command_queue_due ON eskit_command_queue (status, available_at);

-- One live command per key (a saga's deadline): a finished one frees its key.
CREATE UNIQUE INDEX eskit_command_queue_live_key ON eskit_command_queue (key)
    WHERE key IS NOT NULL AND status IN ('queued', 'running');

-- Saga instances, written by compare-and-set on version in the transaction of the events
-- they handled and the commands they issued.
CREATE TABLE eskit_sagas (
    saga           text        NOT NULL,
    correlation_id text        NOT NULL,
    status         text        NOT NULL
        CHECK (status IN ('running', 'completed', 'compensating', 'compensated', 'failed')),
    step           text        NOT NULL,
    state          jsonb       NOT NULL,
    version        bigint      NOT NULL CHECK (version > 0),
    started_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    reason         text        NOT NULL DEFAULT '',
    PRIMARY KEY (saga, correlation_id)
);

-- Operators list a saga's instances by status, least recently updated first (stuck ones).
CREATE INDEX eskit_sagas_by_status ON eskit_sagas (saga, status, updated_at);
