-- The last version of each stream a consumer applied, written in the transaction of its
-- effects: a member that gets a stream's next event before the one ahead of it (held by a
-- member that died, say) waits for it instead of applying the stream out of order.
CREATE TABLE eskit_consumer_streams (
    consumer  text   NOT NULL,
    stream_id text   NOT NULL,
    version   bigint NOT NULL,
    PRIMARY KEY (consumer, stream_id)
);
