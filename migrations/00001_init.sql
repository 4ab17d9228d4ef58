-- Initial schema. Portable SQL only: this exact file runs on SQLite and PostgreSQL.
--
-- Conventions:
--   * ids are TEXT chosen by the application (prefix + random), never SERIAL;
--   * money is BIGINT nano-USD; Go int64 fields are BIGINT, Go int fields
--     INTEGER (except in request_logs, see there);
--   * strings are NOT NULL DEFAULT '' (Go has no NULL string), optional values
--     (Go pointers) are the only nullable columns;
--   * times are TIMESTAMP in UTC without a DB default (CURRENT_TIMESTAMP would
--     follow the PostgreSQL session time zone); the application always sets them;
--   * statuses are soft deletes, so foreign keys do not cascade except for
--     pure child rows (memberships, IAM rules).

-- +goose Up
CREATE TABLE organizations (
    id              TEXT      NOT NULL PRIMARY KEY,
    name            TEXT      NOT NULL DEFAULT '',
    status          TEXT      NOT NULL DEFAULT 'active',
    credits_balance BIGINT    NOT NULL DEFAULT 0,
    retention_level TEXT      NOT NULL DEFAULT 'metadata-only',
    retention_days  INTEGER   NOT NULL DEFAULT 0,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id            TEXT      NOT NULL PRIMARY KEY,
    email         TEXT      NOT NULL,
    name          TEXT      NOT NULL DEFAULT '',
    password_hash TEXT      NOT NULL DEFAULT '',
    role          TEXT      NOT NULL DEFAULT 'user',
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
-- Byte-wise unique: the application lower-cases emails before storing them.
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE organization_members (
    id              TEXT      NOT NULL PRIMARY KEY,
    organization_id TEXT      NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         TEXT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            TEXT      NOT NULL DEFAULT 'viewer',
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX organization_members_org_user_key ON organization_members (organization_id, user_id);
CREATE INDEX organization_members_user_idx ON organization_members (user_id);

CREATE TABLE projects (
    id                     TEXT      NOT NULL PRIMARY KEY,
    organization_id        TEXT      NOT NULL REFERENCES organizations (id),
    name                   TEXT      NOT NULL DEFAULT '',
    mode                   TEXT      NOT NULL DEFAULT 'api-keys',
    caching_enabled        BOOLEAN   NOT NULL DEFAULT FALSE,
    cache_duration_seconds INTEGER   NOT NULL DEFAULT 0,
    status                 TEXT      NOT NULL DEFAULT 'active',
    rate_limit_rpm         INTEGER,
    rate_limit_tpm         INTEGER,
    created_at             TIMESTAMP NOT NULL,
    updated_at             TIMESTAMP NOT NULL
);
CREATE INDEX projects_organization_idx ON projects (organization_id);

CREATE TABLE api_keys (
    id                          TEXT      NOT NULL PRIMARY KEY,
    organization_id             TEXT      NOT NULL REFERENCES organizations (id),
    project_id                  TEXT      NOT NULL REFERENCES projects (id),
    description                 TEXT      NOT NULL DEFAULT '',
    token_hash                  TEXT      NOT NULL,
    masked_token                TEXT      NOT NULL DEFAULT '',
    status                      TEXT      NOT NULL DEFAULT 'active',
    test                        BOOLEAN   NOT NULL DEFAULT FALSE,
    created_by                  TEXT      NOT NULL DEFAULT '',
    usage_limit                 BIGINT,
    period_usage_limit          BIGINT,
    period_usage_duration_value INTEGER,
    period_usage_duration_unit  TEXT,
    usage                       BIGINT    NOT NULL DEFAULT 0,
    period_usage                BIGINT    NOT NULL DEFAULT 0,
    period_start                TIMESTAMP,
    rate_limit_rpm              INTEGER,
    rate_limit_tpm              INTEGER,
    expires_at                  TIMESTAMP,
    last_used_at                TIMESTAMP,
    created_at                  TIMESTAMP NOT NULL,
    updated_at                  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX api_keys_token_hash_key ON api_keys (token_hash);
-- The key cache refresher polls "updated_at > ?".
CREATE INDEX api_keys_updated_at_idx ON api_keys (updated_at);
CREATE INDEX api_keys_project_idx ON api_keys (project_id);
CREATE INDEX api_keys_organization_idx ON api_keys (organization_id);

CREATE TABLE iam_rules (
    id         TEXT      NOT NULL PRIMARY KEY,
    api_key_id TEXT      NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    rule_type  TEXT      NOT NULL,
    rule_value TEXT      NOT NULL DEFAULT '',
    status     TEXT      NOT NULL DEFAULT 'active',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX iam_rules_api_key_idx ON iam_rules (api_key_id);

CREATE TABLE master_keys (
    id              TEXT      NOT NULL PRIMARY KEY,
    organization_id TEXT      NOT NULL REFERENCES organizations (id),
    name            TEXT      NOT NULL DEFAULT '',
    token_hash      TEXT      NOT NULL,
    masked_token    TEXT      NOT NULL DEFAULT '',
    status          TEXT      NOT NULL DEFAULT 'active',
    created_by      TEXT      NOT NULL DEFAULT '',
    last_used_at    TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX master_keys_token_hash_key ON master_keys (token_hash);
CREATE INDEX master_keys_organization_idx ON master_keys (organization_id);

CREATE TABLE provider_keys (
    id              TEXT      NOT NULL PRIMARY KEY,
    organization_id TEXT      NOT NULL REFERENCES organizations (id),
    provider        TEXT      NOT NULL,
    name            TEXT      NOT NULL DEFAULT '',
    base_url        TEXT      NOT NULL DEFAULT '',
    encrypted_key   TEXT      NOT NULL,
    masked_key      TEXT      NOT NULL DEFAULT '',
    status          TEXT      NOT NULL DEFAULT 'active',
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX provider_keys_organization_provider_idx ON provider_keys (organization_id, provider);

-- request_logs and usage_hourly deliberately have no foreign keys: they are
-- written in background batches, and one row referencing a vanished or empty
-- id (unauthenticated request, hard-deleted key) must not fail a whole batch.
-- Every integer is BIGINT here (Go int is 64-bit): no Go value can fail to
-- encode, so an absurd upstream usage report or duration cannot poison a batch.
CREATE TABLE request_logs (
    id                 TEXT      NOT NULL PRIMARY KEY,
    request_id         TEXT      NOT NULL DEFAULT '',
    created_at         TIMESTAMP NOT NULL,
    organization_id    TEXT      NOT NULL DEFAULT '',
    project_id         TEXT      NOT NULL DEFAULT '',
    api_key_id         TEXT      NOT NULL DEFAULT '',
    endpoint           TEXT      NOT NULL DEFAULT '',
    requested_model    TEXT      NOT NULL DEFAULT '',
    requested_provider TEXT      NOT NULL DEFAULT '',
    used_model         TEXT      NOT NULL DEFAULT '',
    used_provider      TEXT      NOT NULL DEFAULT '',
    upstream_model     TEXT      NOT NULL DEFAULT '',
    status             BIGINT    NOT NULL DEFAULT 0,
    finish_reason      TEXT      NOT NULL DEFAULT '',
    streamed           BOOLEAN   NOT NULL DEFAULT FALSE,
    cached             BOOLEAN   NOT NULL DEFAULT FALSE,
    prompt_tokens      BIGINT    NOT NULL DEFAULT 0,
    completion_tokens  BIGINT    NOT NULL DEFAULT 0,
    cached_tokens      BIGINT    NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT    NOT NULL DEFAULT 0,
    reasoning_tokens   BIGINT    NOT NULL DEFAULT 0,
    total_tokens       BIGINT    NOT NULL DEFAULT 0,
    tokens_estimated   BOOLEAN   NOT NULL DEFAULT FALSE,
    input_cost         BIGINT,
    output_cost        BIGINT,
    cached_input_cost  BIGINT,
    cache_write_cost   BIGINT,
    request_cost       BIGINT,
    total_cost         BIGINT,
    duration_ms        BIGINT    NOT NULL DEFAULT 0,
    ttft_ms            BIGINT,
    source             TEXT      NOT NULL DEFAULT '',
    user_agent         TEXT      NOT NULL DEFAULT '',
    session_id         TEXT      NOT NULL DEFAULT '',
    metadata           TEXT      NOT NULL DEFAULT '',
    error_type         TEXT      NOT NULL DEFAULT '',
    error_message      TEXT      NOT NULL DEFAULT '',
    retried            BOOLEAN   NOT NULL DEFAULT FALSE,
    retried_by_log_id  TEXT      NOT NULL DEFAULT '',
    routing_attempts   TEXT      NOT NULL DEFAULT ''
);
CREATE INDEX request_logs_project_created_idx ON request_logs (project_id, created_at);
CREATE INDEX request_logs_api_key_created_idx ON request_logs (api_key_id, created_at);
CREATE INDEX request_logs_organization_created_idx ON request_logs (organization_id, created_at);
CREATE INDEX request_logs_request_id_idx ON request_logs (request_id);

-- The rollup key is the primary key: it is what the writer upserts on, and a
-- surrogate id would need SERIAL/IDENTITY, which is not portable.
CREATE TABLE usage_hourly (
    hour              TIMESTAMP NOT NULL,
    organization_id   TEXT      NOT NULL DEFAULT '',
    project_id        TEXT      NOT NULL DEFAULT '',
    api_key_id        TEXT      NOT NULL DEFAULT '',
    model             TEXT      NOT NULL DEFAULT '',
    provider          TEXT      NOT NULL DEFAULT '',
    requests          BIGINT    NOT NULL DEFAULT 0,
    errors            BIGINT    NOT NULL DEFAULT 0,
    prompt_tokens     BIGINT    NOT NULL DEFAULT 0,
    completion_tokens BIGINT    NOT NULL DEFAULT 0,
    cached_tokens     BIGINT    NOT NULL DEFAULT 0,
    total_tokens      BIGINT    NOT NULL DEFAULT 0,
    cost              BIGINT    NOT NULL DEFAULT 0,
    unpriced_requests BIGINT    NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, organization_id, project_id, api_key_id, model, provider)
);
-- Dashboards ask "this organization / key over a time range".
CREATE INDEX usage_hourly_organization_hour_idx ON usage_hourly (organization_id, hour);
CREATE INDEX usage_hourly_api_key_hour_idx ON usage_hourly (api_key_id, hour);

CREATE TABLE credit_transactions (
    id              TEXT      NOT NULL PRIMARY KEY,
    organization_id TEXT      NOT NULL REFERENCES organizations (id),
    amount          BIGINT    NOT NULL,
    balance_after   BIGINT    NOT NULL,
    kind            TEXT      NOT NULL,
    reference       TEXT      NOT NULL DEFAULT '',
    description     TEXT      NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX credit_transactions_organization_created_idx ON credit_transactions (organization_id, created_at);

-- No foreign key: CLI and user-level actions are audited with an empty
-- organization_id, and the audit trail must outlive what it describes.
CREATE TABLE audit_logs (
    id              TEXT      NOT NULL PRIMARY KEY,
    organization_id TEXT      NOT NULL DEFAULT '',
    actor_type      TEXT      NOT NULL DEFAULT '',
    actor_id        TEXT      NOT NULL DEFAULT '',
    action          TEXT      NOT NULL,
    resource_type   TEXT      NOT NULL DEFAULT '',
    resource_id     TEXT      NOT NULL DEFAULT '',
    changes         TEXT      NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX audit_logs_organization_created_idx ON audit_logs (organization_id, created_at);

-- +goose Down
DROP TABLE audit_logs;
DROP TABLE credit_transactions;
DROP TABLE usage_hourly;
DROP TABLE request_logs;
DROP TABLE provider_keys;
DROP TABLE master_keys;
DROP TABLE iam_rules;
DROP TABLE api_keys;
DROP TABLE projects;
DROP TABLE organization_members;
DROP TABLE users;
DROP TABLE organizations;
