"""Faults under load (issue 17): the scenario tests/system/test_fault_under_load.py runs
bounded, and ``python -m bench.faults`` runs longer, writing its figures to RESULTS.md."""
