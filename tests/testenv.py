"""Where the tests find their servers; importable from any test module."""

import os

REDIS_URL = os.environ.get("ATP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
