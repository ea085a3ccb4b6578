-- The operator and store page's sign-in sessions (ui/session.py). A session is a random
-- token held in an HttpOnly cookie; only its SHA-256 is stored, so a database read gives
-- no way in. It acts as the API key it was opened with (re-read on every request: a
-- revoked key ends its sessions), carries the token every form of the page must echo
-- (CSRF), and ends at its expiry or at sign-out (revoked_at), whichever comes first.
CREATE TABLE ui_sessions (
    token_digest text PRIMARY KEY,
    key_id       text NOT NULL REFERENCES api_keys (key_id),
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX ui_sessions_expiry ON ui_sessions (expires_at);
