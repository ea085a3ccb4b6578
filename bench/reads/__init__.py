"""HTTP reads from the replica: ``python -m bench.reads``."""
