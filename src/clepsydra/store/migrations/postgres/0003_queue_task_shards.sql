-- A shard's new owner loads the backlog of its task queues along with its timers and
-- transfers, so task-queue tasks carry their execution's shard too.
ALTER TABLE queue_tasks ADD COLUMN shard_id INTEGER NOT NULL DEFAULT 0;
CREATE INDEX queue_tasks_by_shard ON queue_tasks (shard_id, seq);
