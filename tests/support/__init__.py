"""What the tests share: where their servers are (``env``), the machine's servers started
on first use (``machine``), private servers the fault suites start and kill (``servers``,
``journal``), the PostgreSQL fixtures (``postgres``), the in-process API (``harness``,
``routes_table``) and the ledger invariants (``invariants``, ``invariants_ledger``).

Imported as a package (``from support.servers import PrivateRedis``); pyproject's pytest
``pythonpath`` puts ``tests/`` on the path for it."""
