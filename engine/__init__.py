"""The engine seam: one protocol (engine/protocol.py) with a local implementation (Redis
alone) and a durable one (acknowledged once in PostgreSQL), composed here from the
packages below it."""
