"""Checking code, not shipped: the pure reference models the property tests compare Redis
with, and routing's MILP oracle with its instance generators (tests and bench only)."""
