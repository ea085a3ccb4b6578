-- Where policy texts appear (orders/policies.py): each surface (a site snippet, the order
-- email, the receipt, a support macro) shows one policy, and reports here what it
-- currently publishes, the text and the version it was rendered from. The consistency
-- audit (GET /v1/policies/audit) renders the current version for each and counts those
-- that differ. The API's own pickup and return answers are rendered from the policy in
-- force when asked, so they are never stored here.
CREATE TABLE policy_surfaces (
    surface           text PRIMARY KEY
        CHECK (surface IN ('site_snippet', 'order_email', 'receipt', 'support_macro')),
    policy            text NOT NULL,
    published_version integer NOT NULL,
    published_text    text NOT NULL,
    reported_at       timestamptz NOT NULL DEFAULT now(),
    reported_by       text NOT NULL DEFAULT '',
    -- A surface can only have published a version that exists (versions are never deleted).
    FOREIGN KEY (policy, published_version) REFERENCES policies (name, version)
);

-- The seeded texts were written when nothing rendered them, a placeholder standing for a
-- bare number ("{window_days} days"). Rendering is typed now ("30 days"), so their unit
-- words go; what a customer reads is unchanged, and no surface had published them yet.
UPDATE policies SET text = replace(text, '{window_days} days', '{window_days}')
WHERE name = 'returns' AND version = 1 AND created_by = 'migration';
UPDATE policies SET text = replace(text, '{collect_within_hours} hours', '{collect_within_hours}')
WHERE name = 'pickup' AND version = 1 AND created_by = 'migration';
