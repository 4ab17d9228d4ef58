-- Guardrails: each organization's configuration, and the Security Events
-- log of guardrail violations (the seed's "Guardrails" and "Security Events").
--
-- guardrail_configs has one row per organization that ever saved one (none
-- means the default: disabled, no rules). config is the canonical JSON that
-- app/guardrails.Parse accepted; the key cache compiles it once per change
-- and polls "updated_at > ?" like the other tables it mirrors. updated_by is
-- the actor id (the master key, user or CLI) of the last change.
--
-- security_events, like request_logs, has no foreign keys: rows are written
-- in background batches (app/secevents), and one row must never fail a
-- batch. One row per violation; match is the engine's masked match, never a
-- full PII value or secret. action is blocked | redacted | warned. Integers
-- are BIGINT for the same reason as in request_logs.

-- +goose Up
CREATE TABLE guardrail_configs (
    organization_id TEXT      NOT NULL PRIMARY KEY REFERENCES organizations (id),
    config          TEXT      NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    updated_by      TEXT      NOT NULL DEFAULT ''
);
CREATE INDEX guardrail_configs_updated_at_idx ON guardrail_configs (updated_at);

CREATE TABLE security_events (
    id              TEXT      NOT NULL PRIMARY KEY,
    organization_id TEXT      NOT NULL DEFAULT '',
    project_id      TEXT      NOT NULL DEFAULT '',
    api_key_id      TEXT      NOT NULL DEFAULT '',
    request_id      TEXT      NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    category        TEXT      NOT NULL DEFAULT '',
    entity          TEXT      NOT NULL DEFAULT '',
    action          TEXT      NOT NULL DEFAULT '',
    rule            TEXT      NOT NULL DEFAULT '',
    match           TEXT      NOT NULL DEFAULT '',
    message_index   BIGINT    NOT NULL DEFAULT 0,
    model           TEXT      NOT NULL DEFAULT '',
    endpoint        TEXT      NOT NULL DEFAULT ''
);
-- The list is "this organization, newest first" (ORDER BY created_at DESC,
-- id DESC: both databases walk an ascending B-tree backwards, as for
-- request_logs); the dashboard filters by action and category within it.
CREATE INDEX security_events_organization_created_idx ON security_events (organization_id, created_at);
CREATE INDEX security_events_organization_action_created_idx ON security_events (organization_id, action, created_at);
CREATE INDEX security_events_organization_category_created_idx ON security_events (organization_id, category, created_at);
CREATE INDEX security_events_project_created_idx ON security_events (project_id, created_at);
CREATE INDEX security_events_api_key_created_idx ON security_events (api_key_id, created_at);
CREATE INDEX security_events_request_id_idx ON security_events (request_id);

-- +goose Down
DROP TABLE security_events;
DROP TABLE guardrail_configs;
