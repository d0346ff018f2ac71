-- As sqlite/0006: task queue configs, one row per namespace, queue name and queue type.
CREATE TABLE task_queue_configs (
    namespace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    queue_type INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (namespace_id, name, queue_type)
);
