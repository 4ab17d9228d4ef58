-- Data retention: request and response payloads of organizations whose
-- retention level is "retain-all", sealed with AES-256-GCM (app/secretbox,
-- key derived from AUTH_SECRET) before they reach the database.
--
-- Like request_logs, no foreign key: rows are written in background batches
-- and must not fail because a log row (written by another batcher) is not
-- there yet. log_id is the request_logs id of the final upstream attempt.
-- Sealed values are TEXT ("v1:" + base64): BYTEA/BLOB are not portable.
-- expires_at is created_at plus the retention period in force when the
-- request was made: "existing stored data follows the retention period
-- active when it was created" (the seed). Sizes are of the plaintext; a
-- payload too large to keep has its size but an empty sealed value.

-- +goose Up
CREATE TABLE request_payloads (
    log_id             TEXT      NOT NULL PRIMARY KEY,
    organization_id    TEXT      NOT NULL DEFAULT '',
    created_at         TIMESTAMP NOT NULL,
    expires_at         TIMESTAMP NOT NULL,
    encrypted_request  TEXT      NOT NULL DEFAULT '',
    encrypted_response TEXT      NOT NULL DEFAULT '',
    request_bytes      BIGINT    NOT NULL DEFAULT 0,
    response_bytes     BIGINT    NOT NULL DEFAULT 0,
    tokens             BIGINT    NOT NULL DEFAULT 0,
    data_storage_cost  BIGINT    NOT NULL DEFAULT 0
);
-- The retention job deletes "expires_at < now" in batches.
CREATE INDEX request_payloads_expires_idx ON request_payloads (expires_at);

-- +goose Down
DROP TABLE request_payloads;
