"""Where the tests find the machine's servers; importable from any test module.

ATP_TEST_REDIS_URL picks the Redis database (default db 15; the durability suites default
to db 12), ATP_TEST_PG_DSN the PostgreSQL test database, so parallel work can be isolated.
"""

import os

REDIS_URL = os.environ.get("ATP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
JOURNAL_REDIS_URL = os.environ.get("ATP_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
PG_DSN = os.environ.get("ATP_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/atp_j_test")
