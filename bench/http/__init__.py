"""HTTP API benchmark: ``python -m bench.http``."""
