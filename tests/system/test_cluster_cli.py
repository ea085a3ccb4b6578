"""`atp` import, journal, verify and rebuild against a private 3-master Redis Cluster, as
tests/cli/test_journal_cli.py runs them against a single Redis."""

from pathlib import Path

import pytest

from cli.main import main
from support.journal import fresh_database
from support.servers import PrivateCluster

pytestmark = [pytest.mark.slow, pytest.mark.servers]

ROWS = 40


@pytest.fixture
async def cli_dsn(pg_dsn: str) -> str:
    return await fresh_database(pg_dsn, "atp_j_cluster_cli")


def test_verify_and_rebuild_a_cluster(
    cli_dsn: str,
    cluster_url: str,
    redis_cluster: PrivateCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    common = ["--pg-dsn", cli_dsn, "--redis-url", cluster_url]
    assert main(["migrate", "--pg-dsn", cli_dsn]) == 0
    (tmp_path / "loc.csv").write_text(
        "id,name,kind,latitude,longitude,time_zone\nST-1,Store,store,59.9,10.7,Europe/Oslo\n"
    )
    stock = "".join(f"SKU-{i},ST-1,{i + 1}\n" for i in range(ROWS))
    (tmp_path / "stock.csv").write_text("sku,location,on_hand\n" + stock)
    assert main(["import", "locations", str(tmp_path / "loc.csv"), *common]) == 0
    assert main(["import", "stock", str(tmp_path / "stock.csv"), *common]) == 0
    assert main(["journal", "--once", *common]) == 0
    capsys.readouterr()
    assert main(["verify", "--drain", "--replay", *common]) == 0
    assert "0 difference(s)" in capsys.readouterr().out
    assert main(["rebuild", *common]) == 0
    assert "complete" in capsys.readouterr().out
    redis_cluster.flushall()  # every master lost the ledger
    assert main(["verify", *common]) == 1  # every position is missing now
    assert f"{ROWS} difference(s)" in capsys.readouterr().out
    assert main(["rebuild", *common]) == 0
    assert f"{ROWS} positions" in capsys.readouterr().out
    assert main(["verify", *common]) == 0
    assert "0 difference(s)" in capsys.readouterr().out
