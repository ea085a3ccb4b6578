"""Where a hold's worker CPU goes, stage by stage, beside the availability GET and the
baseline app (python -m bench.hold)."""
