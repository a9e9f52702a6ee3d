-- Messages a consumer has processed, recorded in the transaction of its effects, so that a
-- message delivered again (at-least-once) takes effect once.
CREATE TABLE eskit_processed_messages (
    consumer     TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    processed_at TEXT NOT NULL,
    PRIMARY KEY (consumer, message_id)
) WITHOUT ROWID;
