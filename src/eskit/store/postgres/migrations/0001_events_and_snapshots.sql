-- The event log. position = (id of the appending transaction << 16) + ordinal in it, so a
-- reader that only reads below the oldest running transaction never skips a late commit.
CREATE TABLE eskit_events (
    position       bigint      PRIMARY KEY,
    stream_id      text        NOT NULL,
    stream_type    text        NOT NULL,
    version        bigint      NOT NULL CHECK (version > 0),
    event_id       uuid        NOT NULL,
    event_type     text        NOT NULL,
    schema_version integer     NOT NULL CHECK (schema_version > 0),
    data           jsonb       NOT NULL,
    metadata       jsonb       NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT eskit_events_stream_version_key UNIQUE (stream_id, version),
    CONSTRAINT eskit_events_event_id_key UNIQUE (event_id)
);

-- One entry per stream: lists streams in creation order without scanning every event.
CREATE INDEX eskit_events_stream_starts ON eskit_events (position) WHERE version = 1;

CREATE TABLE eskit_snapshots (
    stream_id      text        PRIMARY KEY,
    stream_type    text        NOT NULL,
    version        bigint      NOT NULL,
    schema_version integer     NOT NULL,
    state          jsonb       NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
