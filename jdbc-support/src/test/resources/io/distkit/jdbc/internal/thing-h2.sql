-- a test table for h2
CREATE TABLE ${table} (
    name  VARCHAR(64) NOT NULL PRIMARY KEY,
    owner VARCHAR(64)
);
