-- Shards, for several server processes on one database. Executions hash into a fixed
-- number of shards (chosen at the first `clepsydra db migrate`, kept in `cluster`); a
-- process owns a shard through its row here. Every acquisition increments range_id, and
-- every write of an owner checks, in its own transaction, that range_id is still the one
-- it acquired: a process that lost its lease cannot commit, even before it notices.
CREATE TABLE cluster (
    singleton BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    shard_count INTEGER NOT NULL CHECK (shard_count > 0)
);

CREATE TABLE shards (
    shard_id INTEGER PRIMARY KEY,
    owner TEXT,
    range_id BIGINT NOT NULL DEFAULT 0,
    lease_expires TIMESTAMPTZ
);

-- The processes serving from this database, each renewing its row like a lease: how many
-- are alive decides each one's share of the shards, even before it holds any.
CREATE TABLE members (
    owner TEXT PRIMARY KEY,
    expires TIMESTAMPTZ NOT NULL
);

-- Timers and transfers are processed by the owner of their execution's shard, which loads
-- them by shard when it acquires one.
ALTER TABLE timers ADD COLUMN shard_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE transfer_tasks ADD COLUMN shard_id INTEGER NOT NULL DEFAULT 0;
CREATE INDEX timers_by_shard ON timers (shard_id, fire_time);
CREATE INDEX transfer_tasks_by_shard ON transfer_tasks (shard_id, seq);
