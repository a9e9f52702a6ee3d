-- Which process works on a named loop (a projection, the relay, a consumer): taken by
-- compare-and-set (free, expired, or held by the same holder), renewed by heartbeats, and
-- removed on a clean stop. Times are the database's clock, whatever the hosts' clocks say.
CREATE TABLE eskit_leases (
    name        text        PRIMARY KEY,
    holder      text        NOT NULL,
    host        text        NOT NULL,
    pid         integer     NOT NULL,
    acquired_at timestamptz NOT NULL,
    beat_at     timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
