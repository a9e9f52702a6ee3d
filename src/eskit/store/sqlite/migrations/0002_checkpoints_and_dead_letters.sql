-- Where each subscription stands, written in the same transaction as its read model, and
-- the last error it met (written on its own, as the failing batch rolled back).
CREATE TABLE eskit_checkpoints (
    name           TEXT    PRIMARY KEY,
    position       INTEGER NOT NULL DEFAULT 0,
    updated_at     TEXT    NOT NULL,
    error          TEXT,
    error_position INTEGER,
    error_count    INTEGER NOT NULL DEFAULT 0,
    error_at       TEXT
);

-- Events an operator parked so that a projection could go on without them.
CREATE TABLE eskit_dead_letters (
    projection  TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    event_id    TEXT    NOT NULL,
    stream_id   TEXT    NOT NULL,
    event_type  TEXT    NOT NULL,
    error       TEXT    NOT NULL,
    parked_at   TEXT    NOT NULL,
    PRIMARY KEY (projection, position)
);
