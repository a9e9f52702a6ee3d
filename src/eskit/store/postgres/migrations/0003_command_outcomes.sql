-- Outcomes of commands that recorded no event (a payment seen before, say), kept under the
-- command id so that a retry with the same idempotency key repeats the first answer.
-- Commands whose events are stored are remembered by the events themselves.
CREATE TABLE eskit_command_outcomes (
    command_id  uuid        PRIMARY KEY,
    stream_id   text        NOT NULL,
    version     bigint      NOT NULL,
    position    bigint      NOT NULL,
    fingerprint text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Operators prune old outcomes by age (idempotency keys are meant for retries, not forever).
CREATE INDEX eskit_command_outcomes_recorded_at ON eskit_command_outcomes (recorded_at);
