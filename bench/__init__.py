"""Benchmarks, one subpackage each (``python -m bench.<name>``); bench/README.md is the index."""
