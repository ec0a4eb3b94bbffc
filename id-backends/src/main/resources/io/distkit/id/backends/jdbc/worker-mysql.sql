-- distkit worker-id table for MySQL 8 and MariaDB 10.5+. One row per worker id ever leased; rows are
-- never deleted, so a worker id's last_timestamp (the high-water mark of its snowflake generators)
-- outlives every lease on it. expires_at is UTC, on the database clock. owner compares exactly
-- (binary collation). InnoDB: the statements need row locks.
CREATE TABLE ${table} (
    worker_id      INT         NOT NULL PRIMARY KEY,
    owner          VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin,
    last_timestamp BIGINT      NOT NULL,
    expires_at     DATETIME(3) NOT NULL
) ENGINE = InnoDB;
