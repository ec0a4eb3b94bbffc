-- distkit segment table for MySQL 8 and MariaDB 10.5+. One row per business tag; rows are never
-- deleted. max_id is one past the last id handed out (the next range starts there), step the size of
-- the last range, updated_at the time of the last change, UTC, by the database clock. biz_tag is
-- binary so that tags compare exactly (no case folding, no trailing-space padding); 512 bytes hold
-- the 128 characters a tag may have in UTF-8. InnoDB: the statements need row locks.
CREATE TABLE ${table} (
    biz_tag    VARBINARY(512) NOT NULL PRIMARY KEY,
    max_id     BIGINT         NOT NULL,
    step       BIGINT         NOT NULL,
    updated_at DATETIME(3)
) ENGINE = InnoDB;
