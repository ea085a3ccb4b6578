"""Fixtures for the alerts tests; the world itself is in support/alerts_world.py."""

from support.alerts_world import world

__all__ = ["world"]
