"""A seeded, accelerated retail day driven over HTTP against a private engine (issue 15):
``atp simulate`` and ``python -m bench.retail_day``."""
