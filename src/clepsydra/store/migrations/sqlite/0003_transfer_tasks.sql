-- Actions on other executions (start a child, deliver a signal or cancel request, tell a
-- parent its child closed, apply a parent close policy), written with the change that
-- calls for them and deleted once done.
CREATE TABLE transfer_tasks (
    namespace_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    task_key TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (namespace_id, workflow_id, run_id, task_key)
);
