-- distkit worker-id table for PostgreSQL. One row per worker id ever leased; rows are never deleted,
-- so a worker id's last_timestamp (the high-water mark of its snowflake generators) outlives every
-- lease on it. expires_at is on the database clock. Keep it a regular (logged) table: distkit refuses
-- UNLOGGED ones, which a crash empties.
CREATE TABLE ${table} (
    worker_id      INTEGER     NOT NULL PRIMARY KEY,
    owner          VARCHAR(64),
    last_timestamp BIGINT      NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL
);
