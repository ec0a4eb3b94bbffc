-- distkit worker-id table for H2 2.x. One row per worker id ever leased; rows are never deleted, so a
-- worker id's last_timestamp (the high-water mark of its snowflake generators) outlives every lease
-- on it. expires_at is on the database clock.
CREATE TABLE ${table} (
    worker_id      INTEGER                  NOT NULL PRIMARY KEY,
    owner          VARCHAR(64),
    last_timestamp BIGINT                   NOT NULL,
    expires_at     TIMESTAMP WITH TIME ZONE NOT NULL
);
