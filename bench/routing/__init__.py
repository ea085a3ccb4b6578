"""Routing benchmark: ``python -m bench.routing``."""
