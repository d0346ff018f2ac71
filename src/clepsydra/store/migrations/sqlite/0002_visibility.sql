-- What list and count queries read: one row per run, written in the same
-- transaction as the change it reflects.
CREATE TABLE executions_visibility (
    namespace_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    workflow_type TEXT NOT NULL,
    task_queue TEXT NOT NULL,
    status INTEGER NOT NULL,
    start_time INTEGER NOT NULL,
    execution_time INTEGER NOT NULL,
    close_time INTEGER,
    history_length INTEGER NOT NULL,
    history_size_bytes INTEGER NOT NULL,
    state_transition_count INTEGER NOT NULL,
    memo BLOB NOT NULL,
    search_attributes BLOB NOT NULL,
    PRIMARY KEY (namespace_id, run_id)
);
CREATE INDEX executions_visibility_by_start ON executions_visibility (namespace_id, start_time);
