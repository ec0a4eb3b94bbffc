-- distkit worker-id table for MySQL 8 and MariaDB 10.5+. Worker id n is the lock 'worker-n' in this
-- table (the columns of a distkit lock table) with its high-water mark beside it. One row per worker id
-- ever leased; rows are never deleted, so the fencing token keeps growing and a worker id's
-- last_timestamp (the high-water mark of its snowflake generators) outlives every lease on it.
-- lock_name is binary so that names compare exactly; expires_at is UTC, on the database clock.
-- InnoDB: the statements need row locks.
CREATE TABLE ${table} (
    lock_name      VARBINARY(800) NOT NULL PRIMARY KEY,
    owner          VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin,
    fencing_token  BIGINT         NOT NULL,
    expires_at     DATETIME(3)    NOT NULL,
    last_timestamp BIGINT         NOT NULL DEFAULT 0
) ENGINE = InnoDB;
