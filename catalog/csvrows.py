"""Reading retailers' CSV files row by row, reporting each bad row and going on.

A row error names the line, the field and the reason. Bytes that are not UTF-8 spoil only
their own row (decoded with surrogateescape, then detected per cell). A file without the
required header columns is refused whole: no row of it can be read with confidence.
"""

import csv
import io
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec

from durability.limits import IMPORT_ERRORS_REPORTED_MAX

_NOT_UTF8 = re.compile("[\udc80-\udcff]")


class RowError(msgspec.Struct, frozen=True):
    line: int
    field: str
    reason: str


class FileRefused(ValueError):
    pass


class Errors:
    """Row errors up to IMPORT_ERRORS_REPORTED_MAX kept; the rest only counted."""

    def __init__(self) -> None:
        self.kept: list[RowError] = []
        self.total = 0

    def add(self, error: RowError) -> None:
        self.total += 1
        if len(self.kept) < IMPORT_ERRORS_REPORTED_MAX:
            self.kept.append(error)


class Progress:
    """A progress line on stderr: redrawn in place on a terminal, every 10% otherwise."""

    def __init__(self, label: str, total_bytes: int, stream: "io.TextIOBase | None" = None):
        self.label = label
        self.total = max(1, total_bytes)
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self._last_s = 0.0
        self._last_tenth = -1

    def update(self, done_bytes: int, rows: int, errors: int, final: bool = False) -> None:
        now = time.monotonic()
        share = min(1.0, done_bytes / self.total)
        tenth = int(share * 10)
        if not final and (now - self._last_s < 0.2 if self.tty else tenth == self._last_tenth):
            return
        self._last_s, self._last_tenth = now, tenth
        rate = rows / max(1e-6, now - self.started)
        text = f"{self.label}: {share:4.0%} {rows:,} rows, {rate:,.0f} rows/s, {errors:,} errors"
        self.stream.write(("\r" + text) if self.tty else text + "\n")
        if final and self.tty:
            self.stream.write("\n")
        self.stream.flush()


def read_rows(
    path: Path, required: tuple[str, ...], optional: tuple[str, ...], errors: Errors
) -> Iterator[tuple[int, dict[str, str], int]]:
    """(line number, row by lower-case column name, bytes read so far) per readable row."""
    raw = path.open("rb")
    with (
        raw,
        io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="") as text,
    ):
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None:
            raise FileRefused(f"{path}: empty file, expected a header row")
        names = [h.strip().lower() for h in header]
        missing = [c for c in required if c not in names]
        if missing:
            raise FileRefused(f"{path}: header lacks column(s) {', '.join(missing)}")
        unknown = [n for n in names if n not in required and n not in optional]
        if unknown:
            raise FileRefused(f"{path}: unknown column(s) {', '.join(unknown)}")
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:  # e.g. a NUL byte or a runaway quoted field
                errors.add(RowError(reader.line_num, "", f"unreadable CSV: {error}"))
                continue
            line = reader.line_num
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            if len(cells) != len(names):
                reason = f"expected {len(names)} columns, found {len(cells)}"
                errors.add(RowError(line, "", reason))
                continue
            bad = next((n for n, c in zip(names, cells, strict=True) if _NOT_UTF8.search(c)), None)
            if bad is not None:
                errors.add(RowError(line, bad, "not valid UTF-8"))
                continue
            yield line, {n: c.strip() for n, c in zip(names, cells, strict=True)}, raw.tell()


def write_errors(path: Path, errors: list[RowError]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["line", "field", "reason"])
        for e in errors:
            writer.writerow([e.line, e.field, e.reason])
