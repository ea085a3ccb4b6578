"""Where the benchmarks write: bench/RESULTS.md (one ``## `` section per benchmark), JSON
figures, and bench/out/ (gitignored) for scratch files."""

from pathlib import Path

import msgspec

BENCH = Path(__file__).resolve().parents[1]
RESULTS_MD = BENCH / "RESULTS.md"
OUT = BENCH / "out"


def write_json(path: Path, document: msgspec.Struct | dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.json.format(msgspec.json.encode(document), indent=2) + b"\n")


def update_markdown_section(path: Path, title: str, body: str, preamble: str) -> None:
    """Replace the ``## title`` section (up to the next ``## ``) or append it, so each
    benchmark owns one section of a shared results file."""
    heading = f"## {title}"
    text = path.read_text() if path.exists() else preamble
    lines = text.rstrip("\n").split("\n")
    section = [heading, "", *body.rstrip("\n").split("\n")]
    if heading in lines:
        start = lines.index(heading)
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        tail = ["", *lines[end:]] if end < len(lines) else []
        lines = lines[:start] + section + tail
    else:
        lines += ["", *section]
    path.write_text("\n".join(lines) + "\n")
