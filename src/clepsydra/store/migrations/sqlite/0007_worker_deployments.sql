-- Worker deployments, one row per deployment of a namespace with its versions and routing
-- (`data`: JSON of engine/worker_deployments.Deployment). Every change is conditioned on the
-- revision read, which clients hold as the deployment's conflict token.
CREATE TABLE worker_deployments (
    namespace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    revision INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (namespace_id, name)
);
