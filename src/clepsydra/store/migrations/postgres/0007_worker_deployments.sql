-- As sqlite/0007: worker deployments, one row per deployment, versioned by revision.
CREATE TABLE worker_deployments (
    namespace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    revision BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (namespace_id, name)
);
