-- distkit lock table for PostgreSQL. One row per lock name ever used; rows are never deleted,
-- so fencing tokens keep growing. Keep it a regular (logged) table: distkit refuses UNLOGGED ones.
CREATE TABLE ${table} (
    lock_name     VARCHAR(200) NOT NULL PRIMARY KEY,
    owner         VARCHAR(64),
    fencing_token BIGINT       NOT NULL,
    expires_at    TIMESTAMPTZ  NOT NULL
);
