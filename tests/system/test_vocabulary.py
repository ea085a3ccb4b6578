"""One vocabulary (shared/conventions.md): one spelling of each word the code and its
docs use, so a search finds every place. American spellings, as the API's paths have
them: fulfill (POST .../fulfill, state fulfilled), catalog (the catalog package)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "atp",
    "reservations",
    "routing",
    "durability",
    "engine",
    "catalog",
    "api",
    "ui",
    "cli",
    "simulation",
)
# Applied migrations never change (their checksums are checked), so they are not read.
DOCS = ("README.md", "ARCHITECTURE.md", "docs")
_WORDS = ("fulfil", "fulfils", "fulfilment", "fulfilments", "catalogue", "catalogues")
_LOWER = "|".join(_WORDS)
# A word also inside an identifier: snake_case (fulfil_first), CamelCase (CatalogueLocation,
# OrderFulfilment) and CONSTANT_CASE (FULFILMENT_MAX); never a longer word (fulfilled).
UNWANTED = re.compile(
    rf"(?<![A-Za-z])(?:{_LOWER})(?![a-z])"
    rf"|(?:{_LOWER.title()})(?![a-z])"
    rf"|(?<![A-Z])(?:{_LOWER.upper()})(?![A-Z])"
)


def _files() -> list[Path]:
    found = [p for package in PACKAGES for p in (ROOT / package).rglob("*") if p.is_file()]
    for name in DOCS:
        path = ROOT / name
        found += [p for p in path.rglob("*.md")] if path.is_dir() else [path]
    return [p for p in found if p.suffix in (".py", ".lua", ".md")]


def test_one_spelling_of_each_word() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{number}: {match.group(0)}"
        for path in _files()
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        for match in UNWANTED.finditer(line)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_check_reads_the_house() -> None:
    assert len(_files()) > 100
    assert UNWANTED.search("a partial Fulfilment") and not UNWANTED.search("fulfilled")
    caught = ("CatalogueLocation", "OrderFulfilment", "fulfil_first", "FULFILMENT_MAX", "Fulfils")
    assert all(UNWANTED.search(name) for name in caught)
    passed = ("CatalogLocation", "Fulfilled", "fulfillment", "FULFILLED", "catalogs", "unfulfilled")
    assert not any(UNWANTED.search(name) for name in passed)
