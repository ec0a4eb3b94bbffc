-- distkit lock table for H2 2.x. One row per lock name ever used; rows are never deleted, so fencing
-- tokens keep growing.
CREATE TABLE ${table} (
    lock_name     VARCHAR(200)             NOT NULL PRIMARY KEY,
    owner         VARCHAR(64),
    fencing_token BIGINT                   NOT NULL,
    expires_at    TIMESTAMP WITH TIME ZONE NOT NULL
);
