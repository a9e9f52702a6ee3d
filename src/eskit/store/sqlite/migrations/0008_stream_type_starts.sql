-- One entry per stream, by stream type: counts the streams of each type and lists a type's
-- streams newest first from the index alone, however long the log grows.
CREATE INDEX eskit_events_type_starts ON eskit_events (stream_type, position) WHERE version = 1;
