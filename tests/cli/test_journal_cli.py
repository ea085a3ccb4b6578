"""The commands, end to end through `atp` (in process)."""

from pathlib import Path

import pytest

from cli.main import main
from support.journal import fresh_database


@pytest.fixture
async def cli_dsn(pg_dsn: str) -> str:
    return await fresh_database(pg_dsn, "atp_j_cli")


def test_commands_migrate_import_journal_verify_rebuild(
    cli_dsn: str, jredis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--dsn", cli_dsn, "--redis", jredis_url]
    assert main(["migrate", "--dsn", cli_dsn]) == 0
    assert main(["migrate", "--dsn", cli_dsn]) == 0
    assert "schema is up to date" in capsys.readouterr().out
    (tmp_path / "loc.csv").write_text(
        "id,name,kind,latitude,longitude,time_zone\nST-1,Store,store,59.9,10.7,Europe/Oslo\n"
    )
    (tmp_path / "stock.csv").write_text("sku,location,on_hand\nSKU-1,ST-1,5\nSKU-2,ST-X,1\n")
    assert main(["import", "locations", str(tmp_path / "loc.csv"), *common]) == 0
    errors = tmp_path / "rejected.csv"
    code = main(["import", "stock", str(tmp_path / "stock.csv"), "--errors", str(errors), *common])
    assert code == 2  # one row loaded, one rejected
    assert errors.read_text().splitlines()[1].startswith("3,location,unknown location")
    assert main(["journal", "--once", *common]) == 0
    assert main(["verify", "--drain", "--replay", *common]) == 0
    assert "0 difference(s)" in capsys.readouterr().out
    assert main(["rebuild", *common]) == 0
    assert "complete" in capsys.readouterr().out
    assert main(["rebuild", "--force", *common]) == 0
    assert "1 positions" in capsys.readouterr().out
    assert main(["import", "stock", str(tmp_path / "missing.csv"), *common]) == 1
