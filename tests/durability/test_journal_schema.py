"""The journal's columns (durability/store.py SCHEMA, taken from atp/events.py FIELDS) are
the ``ledger_events`` table's that the migrations build, in order and with their types:
the insert copies whole rows. Reads the sources; needs no server."""

import re
from pathlib import Path

from durability.store import SCHEMA

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def migrated_columns() -> list[tuple[str, str]]:
    columns: list[tuple[str, str]] = []
    for path in sorted(MIGRATIONS.glob("*.sql")):
        sql = re.sub(r"--[^\n]*", "", path.read_text())
        created = re.search(r"CREATE TABLE ledger_events \((.*?)\n\);", sql, re.S)
        if created:
            for line in created.group(1).split(",\n"):
                name, kind = line.split()[:2]
                if name != "PRIMARY":
                    columns.append((name, kind))
        for altered in re.finditer(r"ALTER TABLE ledger_events\s+(.*?);", sql, re.S):
            for name, kind in re.findall(r"ADD COLUMN (\w+) (\w+)", altered.group(1)):
                columns.append((name, kind))
    return columns


def test_the_journal_columns_are_the_migrated_table() -> None:
    migrated = migrated_columns()
    assert len(migrated) > 20, "the migrations were not read"
    assert list(SCHEMA) == migrated
