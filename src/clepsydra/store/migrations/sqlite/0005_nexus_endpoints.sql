-- Nexus endpoints: global, not per namespace. `data` is a serialized
-- temporal.api.nexus.v1.Endpoint whose worker target names its namespace by id, so that a
-- renamed namespace keeps its endpoints. Names are unique: callers address endpoints by name.
CREATE TABLE nexus_endpoints (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,
    data BLOB NOT NULL
);
