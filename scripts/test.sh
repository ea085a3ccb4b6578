#!/usr/bin/env bash
# The whole check: lint, format, types, then every test (slow fault/cluster suites too).
# Locally, `scripts/test.sh -m "not slow"` skips the slow ones.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
ensure_redis
ensure_postgres
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/pytest "$@"
