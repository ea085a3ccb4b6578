"""The catalog in PostgreSQL: locations, groups and SKUs, their CSV import, and the
routing directory read from it; the demo chain."""
