-- The server's own secrets, made once and kept with the data they protect: the key that
-- seals task tokens ('task_token'), so that tokens stay valid when the server restarts.
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
