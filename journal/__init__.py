"""PostgreSQL system of record: catalog, event journal, durability, rebuild and bulk loads."""
