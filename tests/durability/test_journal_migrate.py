from pathlib import Path

import asyncpg
import pytest

from durability.migrate import MigrationError, load_migrations, migrate
from support.journal import fresh_database


async def test_migrations_apply_to_an_empty_database_and_rerun_as_noop(pg_dsn: str) -> None:
    dsn = await fresh_database(pg_dsn, "atp_j_migrate")
    conn = await asyncpg.connect(dsn)
    try:
        applied = await migrate(conn)
        assert [m.version for m in applied] == [m.version for m in load_migrations()]
        assert await migrate(conn) == []
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
        assert {"locations", "skus", "ledger_events", "positions", "reservations"} <= tables
    finally:
        await conn.close()


async def test_an_edited_applied_migration_is_refused(pg_dsn: str, tmp_path: Path) -> None:
    dsn = await fresh_database(pg_dsn, "atp_j_migrate")
    (tmp_path / "0001_one.sql").write_text("CREATE TABLE one (id int);")
    conn = await asyncpg.connect(dsn)
    try:
        assert len(await migrate(conn, tmp_path)) == 1
        (tmp_path / "0001_one.sql").write_text("CREATE TABLE one (id bigint);")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, tmp_path)
    finally:
        await conn.close()


def test_badly_named_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "one.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_lowercase_name"):
        load_migrations(tmp_path)
