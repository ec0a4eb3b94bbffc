-- a test table for postgresql
CREATE TABLE ${table} (
    name  VARCHAR(64) NOT NULL PRIMARY KEY,
    owner VARCHAR(64)
);
