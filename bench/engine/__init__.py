"""Engine micro-benchmark: ``python -m bench.engine``."""
