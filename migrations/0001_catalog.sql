-- Catalog: the locations, groups and SKUs the ledger's positions refer to.
-- Ids follow atp/validate.py: 1-64 characters, letters, digits and . _ - / (not first).

CREATE TABLE locations (
    id                  text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$'),
    name                text NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('store', 'warehouse', 'dark_store')),
    latitude            double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude           double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    time_zone           text NOT NULL,
    -- {"mon": [["09:00", "21:00"]], ...}; a missing day is closed
    opening_hours       jsonb NOT NULL DEFAULT '{}'::jsonb,
    pickup              boolean NOT NULL DEFAULT false,
    ship                boolean NOT NULL DEFAULT false,
    ship_from_store     boolean NOT NULL DEFAULT false,
    daily_pick_capacity integer NOT NULL DEFAULT 0 CHECK (daily_pick_capacity >= 0),
    priority            integer NOT NULL DEFAULT 100,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE location_groups (
    name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$'),
    description text NOT NULL DEFAULT ''
);

CREATE TABLE location_group_members (
    group_name  text NOT NULL REFERENCES location_groups (name) ON DELETE CASCADE,
    location_id text NOT NULL REFERENCES locations (id) ON DELETE CASCADE,
    PRIMARY KEY (group_name, location_id)
);

CREATE TABLE skus (
    id         text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$'),
    name       text NOT NULL DEFAULT '',
    category   text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
