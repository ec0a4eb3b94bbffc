-- distkit worker-id table for H2 2.x. Worker id n is the lock 'worker-n' in this table (the columns of
-- a distkit lock table) with its high-water mark beside it. One row per worker id ever leased; rows
-- are never deleted, so the fencing token keeps growing and a worker id's last_timestamp (the
-- high-water mark of its snowflake generators) outlives every lease on it. expires_at is on the
-- database clock.
CREATE TABLE ${table} (
    lock_name      VARCHAR(200)             NOT NULL PRIMARY KEY,
    owner          VARCHAR(64),
    fencing_token  BIGINT                   NOT NULL,
    expires_at     TIMESTAMP WITH TIME ZONE NOT NULL,
    last_timestamp BIGINT                   NOT NULL DEFAULT 0
);
