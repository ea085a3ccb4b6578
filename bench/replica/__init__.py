"""In-memory replica benchmark: ``python -m bench.replica``."""
