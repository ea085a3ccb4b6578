"""A small migration runner: versioned SQL files applied once each, in order.

Why our own: the schema is a handful of plain SQL files and asyncpg is already a
dependency; alembic would bring SQLAlchemy for nothing we use. The runner keeps what the
libraries give that matters: a ``schema_migrations`` table, an advisory lock so two
processes starting at once do not both apply a file, a transaction per file, and a
checksum per file so an edited migration that was already applied is refused loudly.
"""

import hashlib
import os
import re
from pathlib import Path

import msgspec

from durability.db import Conn
from durability.limits import LOCK_MIGRATE

_FILE = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


class Migration(msgspec.Struct, frozen=True):
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    pass


def migrations_dir() -> Path:
    """ATP_MIGRATIONS_DIR, else the repository's migrations/ beside this package."""
    configured = os.environ.get("ATP_MIGRATIONS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent / "migrations"


def load_migrations(directory: Path | None = None) -> list[Migration]:
    directory = directory or migrations_dir()
    if not directory.is_dir():
        raise MigrationError(f"no migrations directory at {directory}")
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.fullmatch(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: expected NNNN_lowercase_name.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a version in {directory}")
    return found


_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


async def migrate(conn: Conn, directory: Path | None = None) -> list[Migration]:
    """Applies every migration not applied yet; returns those it applied."""
    wanted = load_migrations(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_MIGRATE)
    try:
        await conn.execute(_BOOKKEEPING)
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        applied = {r["version"]: r for r in rows}
        done = []
        for migration in wanted:
            row = applied.get(migration.version)
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name} changed after it "
                        "was applied; add a new migration instead of editing an applied one"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            done.append(migration)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_MIGRATE)


# Tables whose rows the migrations seed: emptying the database keeps those rows.
SEEDED: dict[str, str] = {"policies": "created_by = 'migration'"}


async def empty_tables(conn: Conn) -> None:
    """Every table emptied (tests, benchmarks), but for the rows the migrations seed."""
    tables = await conn.fetchval(
        "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables"
        " WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        " AND NOT tablename = ANY($1::text[])",
        list(SEEDED),
    )
    await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY")
    for table, seeded in SEEDED.items():
        await conn.execute(f"DELETE FROM {table} WHERE NOT ({seeded})")
