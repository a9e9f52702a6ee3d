-- Which process works on a named loop (a projection, the relay, a consumer): taken by
-- compare-and-set (free, expired, or held by the same holder), renewed by heartbeats, and
-- removed on a clean stop. Times are ISO-8601 UTC text, which sorts as time.
CREATE TABLE eskit_leases (
    name        TEXT    PRIMARY KEY,
    holder      TEXT    NOT NULL,
    host        TEXT    NOT NULL,
    pid         INTEGER NOT NULL,
    acquired_at TEXT    NOT NULL,
    beat_at     TEXT    NOT NULL,
    expires_at  TEXT    NOT NULL
) WITHOUT ROWID;
