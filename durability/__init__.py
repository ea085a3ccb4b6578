"""The PostgreSQL system of record: the journal of every ledger event, the group commit
that makes a write durable before it is acknowledged, rebuild and verify, migrations."""
