"""Helpers every benchmark shares: command-line options, statistics, the machine, result
files, wrk, and the baseline apps the HTTP benchmarks measure against."""
