-- distkit segment table for PostgreSQL. One row per business tag; rows are never deleted. max_id is
-- one past the last id handed out (the next range starts there), step the size of the last range,
-- updated_at the time of the last change by the database clock. Keep it a regular (logged) table:
-- distkit refuses UNLOGGED ones, which a crash empties (and would hand out every id again).
CREATE TABLE ${table} (
    biz_tag    VARCHAR(128) NOT NULL PRIMARY KEY,
    max_id     BIGINT       NOT NULL,
    step       BIGINT       NOT NULL,
    updated_at TIMESTAMPTZ
);
