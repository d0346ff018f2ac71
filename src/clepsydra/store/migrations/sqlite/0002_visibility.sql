-- Visibility: what list and count queries read. One row per run, written in the
-- same transaction as the change it reflects (start, close, search attribute or memo
-- upsert). Search attributes have typed columns so that filters are indexed SQL:
-- predefined ones (TemporalChangeVersion, BuildIds, ...) share one JSON column, and
-- each namespace's custom attributes are given columns from a fixed pool per type
-- (Keyword01..Keyword10, Int01..Int03, ..., mapped in custom_search_attributes).
-- Text columns hold the value's words between spaces, KeywordList columns a JSON array.
-- History length, size, transition count and duration are set when the run closes.
CREATE TABLE executions_visibility (
    namespace_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    workflow_type TEXT NOT NULL,
    task_queue TEXT NOT NULL,
    status INTEGER NOT NULL,
    start_time INTEGER NOT NULL,
    execution_time INTEGER NOT NULL,
    close_time INTEGER,
    -- The close time, or the largest integer while open: the default order (open runs
    -- first, newest start first, then closed runs by close time) is one index scan.
    close_sort INTEGER NOT NULL,
    execution_duration INTEGER,
    history_length INTEGER,
    history_size_bytes INTEGER,
    state_transition_count INTEGER,
    parent_workflow_id TEXT,
    parent_run_id TEXT,
    root_workflow_id TEXT,
    root_run_id TEXT,
    namespace_division TEXT,
    predefined TEXT,
    memo BLOB NOT NULL,
    search_attributes BLOB NOT NULL,
    Keyword01 TEXT, Keyword02 TEXT, Keyword03 TEXT, Keyword04 TEXT, Keyword05 TEXT, Keyword06 TEXT, Keyword07 TEXT, Keyword08 TEXT, Keyword09 TEXT, Keyword10 TEXT,
    Text01 TEXT, Text02 TEXT, Text03 TEXT,
    Int01 INTEGER, Int02 INTEGER, Int03 INTEGER,
    Double01 REAL, Double02 REAL, Double03 REAL,
    Bool01 INTEGER, Bool02 INTEGER, Bool03 INTEGER,
    Datetime01 INTEGER, Datetime02 INTEGER, Datetime03 INTEGER,
    KeywordList01 TEXT, KeywordList02 TEXT, KeywordList03 TEXT,
    PRIMARY KEY (namespace_id, run_id)
);
CREATE INDEX visibility_by_close ON executions_visibility (namespace_id, close_sort DESC, start_time DESC, run_id DESC);
CREATE INDEX visibility_by_status ON executions_visibility (namespace_id, status, close_sort DESC, start_time DESC, run_id DESC);
CREATE INDEX visibility_by_type ON executions_visibility (namespace_id, workflow_type, close_sort DESC, start_time DESC, run_id DESC);
CREATE INDEX visibility_by_workflow_id ON executions_visibility (namespace_id, workflow_id, close_sort DESC, start_time DESC, run_id DESC);
CREATE INDEX visibility_by_task_queue ON executions_visibility (namespace_id, task_queue, close_sort DESC, start_time DESC, run_id DESC);
CREATE INDEX visibility_by_start ON executions_visibility (namespace_id, start_time);
CREATE INDEX visibility_keyword01 ON executions_visibility (namespace_id, Keyword01) WHERE Keyword01 IS NOT NULL;
CREATE INDEX visibility_keyword02 ON executions_visibility (namespace_id, Keyword02) WHERE Keyword02 IS NOT NULL;
CREATE INDEX visibility_keyword03 ON executions_visibility (namespace_id, Keyword03) WHERE Keyword03 IS NOT NULL;
CREATE INDEX visibility_keyword04 ON executions_visibility (namespace_id, Keyword04) WHERE Keyword04 IS NOT NULL;
CREATE INDEX visibility_keyword05 ON executions_visibility (namespace_id, Keyword05) WHERE Keyword05 IS NOT NULL;
CREATE INDEX visibility_keyword06 ON executions_visibility (namespace_id, Keyword06) WHERE Keyword06 IS NOT NULL;
CREATE INDEX visibility_keyword07 ON executions_visibility (namespace_id, Keyword07) WHERE Keyword07 IS NOT NULL;
CREATE INDEX visibility_keyword08 ON executions_visibility (namespace_id, Keyword08) WHERE Keyword08 IS NOT NULL;
CREATE INDEX visibility_keyword09 ON executions_visibility (namespace_id, Keyword09) WHERE Keyword09 IS NOT NULL;
CREATE INDEX visibility_keyword10 ON executions_visibility (namespace_id, Keyword10) WHERE Keyword10 IS NOT NULL;
CREATE INDEX visibility_int01 ON executions_visibility (namespace_id, Int01) WHERE Int01 IS NOT NULL;
CREATE INDEX visibility_int02 ON executions_visibility (namespace_id, Int02) WHERE Int02 IS NOT NULL;
CREATE INDEX visibility_int03 ON executions_visibility (namespace_id, Int03) WHERE Int03 IS NOT NULL;
CREATE INDEX visibility_double01 ON executions_visibility (namespace_id, Double01) WHERE Double01 IS NOT NULL;
CREATE INDEX visibility_double02 ON executions_visibility (namespace_id, Double02) WHERE Double02 IS NOT NULL;
CREATE INDEX visibility_double03 ON executions_visibility (namespace_id, Double03) WHERE Double03 IS NOT NULL;
CREATE INDEX visibility_datetime01 ON executions_visibility (namespace_id, Datetime01) WHERE Datetime01 IS NOT NULL;
CREATE INDEX visibility_datetime02 ON executions_visibility (namespace_id, Datetime02) WHERE Datetime02 IS NOT NULL;
CREATE INDEX visibility_datetime03 ON executions_visibility (namespace_id, Datetime03) WHERE Datetime03 IS NOT NULL;

-- Custom search attributes of each namespace, and the visibility column each one uses.
CREATE TABLE custom_search_attributes (
    namespace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    column_name TEXT NOT NULL,
    PRIMARY KEY (namespace_id, name),
    UNIQUE (namespace_id, column_name)
);

-- Batch operations (terminate, cancel, signal or delete the runs a query selects): the
-- request, the progress shown by DescribeBatchOperation (a serialized
-- DescribeBatchOperationResponse), and where to resume after a restart.
CREATE TABLE batch_operations (
    namespace_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    running INTEGER NOT NULL,
    start_time INTEGER NOT NULL,
    request BLOB NOT NULL,
    progress BLOB NOT NULL,
    cursor TEXT,
    PRIMARY KEY (namespace_id, job_id)
);
