"""Every number the README and docs cite from a record is the recorded one.

A page cites a measured value as a link to its record: ``[7 min 12 s](docs/records/suite.json "seconds")``.
The record (``docs/records/<name>.json``) was written by the command that measured it (``eexit.bench.records.
write_record``: command, commit, date, machine, values). The first number shown must be the recorded value at
the precision shown, converted where the text shows a duration in minutes and seconds, or a share recorded as a
fraction in percent.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CITATION = re.compile(r"\[([^\]]+)\]\((?:\.\./|docs/)?records/([\w-]+)\.json \"([\w.]+)\"\)")


def citations() -> list[tuple[str, str, str, str]]:
    return [(page.name, shown, name, key) for page in PAGES for shown, name, key in CITATION.findall(page.read_text())]


def recorded(name: str, key: str):
    value = json.loads((ROOT / "docs" / "records" / f"{name}.json").read_text())["values"]
    for part in key.split("."):
        value = value[part]
    return value


def shown_value(shown: str) -> tuple[float, int]:
    """The number a citation shows and its decimals; ``4 min 13 s`` is 253 seconds."""
    if m := re.fullmatch(r"(\d+) min (\d+) s", shown.strip()):
        return int(m.group(1)) * 60 + int(m.group(2)), 0
    m = re.search(r"-?\d[\d,]*(?:\.(\d+))?", shown)
    assert m, f"no number in {shown!r}"
    return float(m.group(0).replace(",", "")), len(m.group(1) or "")


def test_every_record_is_cited_and_every_citation_has_a_record():
    cited = {c[2] for c in citations()}
    records = {p.stem for p in (ROOT / "docs" / "records").glob("*.json")}
    assert len(citations()) >= 5 and cited == records, (cited, records)


@pytest.mark.parametrize("page,shown,name,key", citations())
def test_a_cited_number_is_its_record(page, shown, name, key):
    record = json.loads((ROOT / "docs" / "records" / f"{name}.json").read_text())
    assert {"command", "commit", "date", "machine", "values"} <= set(record), name
    value, decimals = shown_value(shown)
    number = float(recorded(name, key))
    if "%" in shown and abs(number) <= 1:   # a share recorded as a fraction, shown in percent
        number *= 100
    assert round(number, decimals) == value, f"{page}: {shown!r} but {name}.json {key} = " \
                                                                 f"{recorded(name, key)}"


def test_a_changed_number_is_caught(tmp_path):
    assert shown_value("4 min 13 s") == (253, 0) and shown_value("92.59 %") == (92.59, 2)
    assert round(92.594, 2) == shown_value("92.59 %")[0] and round(92.604, 2) != shown_value("92.59 %")[0]
