"""Journal and durability benchmark: ``python -m bench.journal``."""
