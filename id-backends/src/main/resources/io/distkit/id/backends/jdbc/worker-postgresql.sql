-- distkit worker-id table for PostgreSQL. Worker id n is the lock 'worker-n' in this table (the
-- columns of a distkit lock table) with its high-water mark beside it. One row per worker id ever
-- leased; rows are never deleted, so the fencing token keeps growing and a worker id's last_timestamp
-- (the high-water mark of its snowflake generators) outlives every lease on it. expires_at is on the
-- database clock. Keep it a regular (logged) table: distkit refuses UNLOGGED ones, which a crash empties.
CREATE TABLE ${table} (
    lock_name      VARCHAR(200) NOT NULL PRIMARY KEY,
    owner          VARCHAR(64),
    fencing_token  BIGINT       NOT NULL,
    expires_at     TIMESTAMPTZ  NOT NULL,
    last_timestamp BIGINT       NOT NULL DEFAULT 0
);
