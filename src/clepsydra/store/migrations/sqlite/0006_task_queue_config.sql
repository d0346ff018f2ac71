-- Task queue configs (UpdateTaskQueueConfig): one row per namespace, queue name and queue
-- type. `data` is a serialized temporal.api.taskqueue.v1.TaskQueueConfig.
CREATE TABLE task_queue_configs (
    namespace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    queue_type INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (namespace_id, name, queue_type)
);
