-- As sqlite/0004: the server's secrets, shared by every process on the database (a task
-- token made by one is opened by another).
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
