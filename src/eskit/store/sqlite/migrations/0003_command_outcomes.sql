-- Outcomes of commands that recorded no event (a payment seen before, say), kept under the
-- command id so that a retry with the same idempotency key repeats the first answer.
-- Commands whose events are stored are remembered by the events themselves.
CREATE TABLE eskit_command_outcomes (
    command_id  TEXT    PRIMARY KEY,
    stream_id   TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    fingerprint TEXT    NOT NULL,
    recorded_at TEXT    NOT NULL
);

-- Operators prune old outcomes by age (idempotency keys are meant for retries, not forever).
CREATE INDEX eskit_command_outcomes_recorded_at ON eskit_command_outcomes (recorded_at);
