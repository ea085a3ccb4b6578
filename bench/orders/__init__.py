"""Orders end to end and the pickup promise (issue 14): python -m bench.orders."""
