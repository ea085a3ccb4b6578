"""Redis time per call of the reservation scripts beside a minimal hold script, and what one
redis.call and one event's XADD cost (python -m bench.script)."""
