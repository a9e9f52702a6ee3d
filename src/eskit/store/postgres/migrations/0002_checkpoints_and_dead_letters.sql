-- Where each subscription stands, written in the same transaction as its read model, and
-- the last error it met (written on its own, as the failing batch rolled back).
CREATE TABLE eskit_checkpoints (
    name           text        PRIMARY KEY,
    position       bigint      NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    error          text,
    error_position bigint,
    error_count    integer     NOT NULL DEFAULT 0,
    error_at       timestamptz
);

-- Events an operator parked so that a projection could go on without them.
CREATE TABLE eskit_dead_letters (
    projection  text        NOT NULL,
    position    bigint      NOT NULL,
    event_id    uuid        NOT NULL,
    stream_id   text        NOT NULL,
    event_type  text        NOT NULL,
    error       text        NOT NULL,
    parked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, position)
);

CREATE EXTENSION IF NOT EXISTS pg_trgm;
