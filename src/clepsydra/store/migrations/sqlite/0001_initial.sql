CREATE TABLE namespaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    data BLOB NOT NULL
);

CREATE TABLE executions (
    namespace_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    state BLOB NOT NULL,
    db_version INTEGER NOT NULL,
    PRIMARY KEY (namespace_id, workflow_id, run_id)
);

CREATE TABLE current_executions (
    namespace_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    first_run_id TEXT NOT NULL,
    status INTEGER NOT NULL,
    start_request_id TEXT NOT NULL,
    PRIMARY KEY (namespace_id, workflow_id)
);

CREATE TABLE history (
    namespace_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    first_event_id INTEGER NOT NULL,
    events BLOB NOT NULL,
    PRIMARY KEY (namespace_id, workflow_id, run_id, first_event_id)
);

-- Tasks waiting on a task queue for a poller (the matching backlog).
CREATE TABLE queue_tasks (
    namespace_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    task_key TEXT NOT NULL,
    task_queue TEXT NOT NULL,
    kind INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (namespace_id, workflow_id, run_id, task_key)
);

-- Durable timers: user timers, timeouts, retry backoffs.
CREATE TABLE timers (
    namespace_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    task_key TEXT NOT NULL,
    fire_time INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (namespace_id, workflow_id, run_id, task_key)
);
CREATE INDEX timers_by_fire_time ON timers (fire_time);
