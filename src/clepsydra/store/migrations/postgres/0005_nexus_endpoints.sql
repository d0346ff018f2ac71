-- As sqlite/0005: Nexus endpoints, global, unique by name.
CREATE TABLE nexus_endpoints (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    version BIGINT NOT NULL,
    data BYTEA NOT NULL
);
