"""The operator and store page, served by the engine itself under /ui/ (issue 16)."""
