-- The event log. Writers are serialised by SQLite (BEGIN IMMEDIATE), so position order is
-- commit order. Times are ISO-8601 UTC text with microseconds, which sorts as time.
CREATE TABLE eskit_events (
    position       INTEGER PRIMARY KEY,
    stream_id      TEXT    NOT NULL,
    stream_type    TEXT    NOT NULL,
    version        INTEGER NOT NULL CHECK (version > 0),
    event_id       TEXT    NOT NULL UNIQUE,
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL CHECK (schema_version > 0),
    data           TEXT    NOT NULL,
    metadata       TEXT    NOT NULL,
    recorded_at    TEXT    NOT NULL,
    UNIQUE (stream_id, version)
);

CREATE INDEX eskit_events_stream_starts ON eskit_events (position) WHERE version = 1;

CREATE TABLE eskit_snapshots (
    stream_id      TEXT    PRIMARY KEY,
    stream_type    TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    schema_version INTEGER NOT NULL,
    state          TEXT    NOT NULL,
    recorded_at    TEXT    NOT NULL
);
