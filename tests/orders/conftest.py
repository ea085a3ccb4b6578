"""Fixtures for the order service tests; the harness itself is in support/harness.py."""

from support.harness import api

__all__ = ["api"]
