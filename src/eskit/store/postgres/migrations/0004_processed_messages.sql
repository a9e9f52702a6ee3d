-- Messages a consumer has processed, recorded in the transaction of its effects, so that a
-- message delivered again (at-least-once) takes effect once.
CREATE TABLE eskit_processed_messages (
    consumer     text        NOT NULL,
    message_id   text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
