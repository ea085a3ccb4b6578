"""POS route benchmark: ``python -m bench.pos``."""
