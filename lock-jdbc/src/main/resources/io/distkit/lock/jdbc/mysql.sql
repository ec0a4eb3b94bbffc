-- distkit lock table for MySQL 8 and MariaDB 10.5+. One row per lock name ever used; rows are never
-- deleted, so fencing tokens keep growing. lock_name is binary so that names compare exactly (no case
-- folding, no trailing-space padding); expires_at is UTC. InnoDB: the statements need row locks.
CREATE TABLE ${table} (
    lock_name     VARBINARY(800) NOT NULL PRIMARY KEY,
    owner         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin,
    fencing_token BIGINT         NOT NULL,
    expires_at    DATETIME(3)    NOT NULL
) ENGINE = InnoDB;
