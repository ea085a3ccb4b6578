# One command each; scripts/ holds the real steps.
.PHONY: demo fix check test test-fast bench

demo:
	./scripts/run-demo.sh

fix:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .

check:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

test:
	./scripts/test.sh

test-fast:
	./scripts/test.sh -m "not slow"

bench:
	.venv/bin/python -m bench.engine
