"""What every benchmark's command line shares."""

import argparse
from urllib.parse import urlparse


def refuse_database_zero(parser: argparse.ArgumentParser, redis_url: str) -> None:
    """The benchmarks flush their database; database 0 is the default one (the demo's)."""
    if not int(urlparse(redis_url).path.lstrip("/") or 0):
        parser.error("--redis-url must name a database other than 0: the benchmark flushes it")
