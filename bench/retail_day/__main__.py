"""``python -m bench.retail_day [--preset full] [--results-md]``: the simulated retail day
(simulation/, the same as ``atp simulate``), its report under bench/out/retail-day/, and with
``--results-md`` its section in bench/RESULTS.md, with the charts copied to docs/retail-day/
(bench/out/ is not committed)."""

import argparse
import shutil
import sys

from bench.common.results import OUT, RESULTS_MD, update_markdown_section
from simulation import command

TITLE = "Retail day (issue 15)"
CHARTS = RESULTS_MD.parents[1] / "docs" / "retail-day"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.retail_day", description=__doc__)
    command.add_options(parser)
    parser.add_argument("--results-md", action="store_true", help="write into bench/RESULTS.md")
    parser.set_defaults(out=OUT / "retail-day")
    args = parser.parse_args(argv)
    status = command.run(args)
    if args.results_md:
        text = (args.out / "report.md").read_text().split("\n", 2)[2]
        CHARTS.mkdir(parents=True, exist_ok=True)
        for chart in args.out.glob("*.png"):
            shutil.copy(chart, CHARTS / chart.name)
        text = text.replace("](", "](../docs/retail-day/")
        command_line = "python -m bench.retail_day " + " ".join(argv or sys.argv[1:])
        update_markdown_section(
            RESULTS_MD, TITLE, f"`{command_line.strip()}`\n\n{text}", "# Benchmark results\n"
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
