"""Fixtures for the API tests; the harness itself is in harness.py."""

from harness import api

__all__ = ["api"]
