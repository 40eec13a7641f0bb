"""The streamed report: every format of a busy ledger reads as it did before the rows were
streamed from SQL (the files in tests/fixtures/report/ were written by the report that built
each row from objects of the whole ledger), and every format lists each grant of a few hundred
once, in order of activation."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

import bridge
from bridge.report import FORMATS, ReportQuery, write_report
from bridge.store import Ledger
from tests.unit import busy_ledger

FIXTURES = Path(__file__).parent.parent / "fixtures" / "report"
# matplotlib's histograms depend on its version; the plain SVG timelines are the report's own.
_MATPLOTLIB_SVG = re.compile(r'<svg xmlns:xlink="http://www\.w3\.org/1999/xlink".*?</svg>', re.S)


def normalised(text: str) -> str:
    """The report without what changes from release to release: the bridge's version and
    matplotlib's drawing of the histograms."""
    return _MATPLOTLIB_SVG.sub("<svg/>", text.replace(bridge.__version__, "<version>"))


def report_of(ledger: Ledger, fmt: str) -> str:
    out = io.StringIO(newline="")
    write_report(ledger, ReportQuery(now=busy_ledger.NOW), fmt, out)
    return out.getvalue()


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    ledger = Ledger(f"sqlite:///{tmp_path_factory.mktemp('busy') / 'ledger.db'}")
    busy_ledger.build(ledger)
    return ledger


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_of_a_busy_ledger_reads_as_before_streaming(busy: Ledger, fmt: str) -> None:
    expected = (FIXTURES / f"busy.{fmt}").read_bytes().decode("utf-8")  # CSV ends lines in CRLF
    assert normalised(report_of(busy, fmt)) == expected


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    ledger = Ledger(f"sqlite:///{tmp_path_factory.mktemp('many') / 'ledger.db'}")
    busy_ledger.build(ledger, 600)
    return ledger


_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\dZ")


def _activations(fmt: str, text: str) -> list[str]:
    """When each grant the report lists was activated, in the report's order."""
    if fmt == "csv":
        return [r["activated_at"] for r in csv.DictReader(io.StringIO(text, newline=""))]
    if fmt == "json":
        return [r["activated_at"] for r in json.loads(text)["rows"]]
    grants = text.split("Grants (601)", 1)[1]
    if fmt == "html":
        lines = grants.split("<tbody>", 1)[1].split("<tr")[1:]
    elif fmt == "md":
        lines = [line for line in grants.splitlines() if line.startswith("| ")][2:]
    else:
        lines = grants.splitlines()[2:]
    # The activation is a grant line's first time: user, mapping and target come before it.
    return [_TIME.findall(line)[0].replace(" ", "T") for line in lines]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_lists_each_of_hundreds_of_grants_once_in_order_of_activation(
    many: Ledger, fmt: str
) -> None:
    text = report_of(many, fmt)
    activations = _activations(fmt, text)
    assert len(activations) == 601
    assert activations == sorted(activations)
    if fmt == "json":
        ids = [r["grant_id"] for r in json.loads(text)["rows"]]
        assert sorted(ids) == list(range(1, 602))
