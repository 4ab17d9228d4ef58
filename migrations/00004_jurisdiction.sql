-- An organization's jurisdiction policy: which providers may serve its
-- requests (global, or <code>-hosted / <code>-sovereign, e.g. eu-sovereign).
-- Enforced by the gateway before any provider call; requests may narrow it
-- further with a jurisdiction model tier.

-- +goose Up
ALTER TABLE organizations ADD COLUMN jurisdiction_policy TEXT NOT NULL DEFAULT 'global';

-- +goose Down
ALTER TABLE organizations DROP COLUMN jurisdiction_policy;
