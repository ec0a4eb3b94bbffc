-- a test table for mysql
CREATE TABLE ${table} (
    name  VARCHAR(64) NOT NULL PRIMARY KEY,
    owner VARCHAR(64)
);
