-- distkit segment table for H2 2.x. One row per business tag; rows are never deleted. max_id is one
-- past the last id handed out (the next range starts there), step the size of the last range,
-- updated_at the time of the last change by the database clock.
CREATE TABLE ${table} (
    biz_tag    VARCHAR(128)             NOT NULL PRIMARY KEY,
    max_id     BIGINT                   NOT NULL,
    step       BIGINT                   NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE
);
