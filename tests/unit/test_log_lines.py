"""The log's lines as a log pipeline reads them: JSON objects with the structured fields, and
no credential an upstream error echoed, in either format."""

from __future__ import annotations

import json
import logging

import pytest

from bridge.logs import JsonFormatter, TextFormatter, fields, level_for
from bridge.words import plural

SECRET = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl"


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("bridge.cycle", logging.ERROR, __file__, 1, message, (), None)
    for name, value in extra.items():
        setattr(record, name, value)
    return record


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_a_token_an_upstream_error_echoes_never_reaches_the_log(
    formatter: logging.Formatter,
) -> None:
    line = formatter.format(_record(f"graph said: Authorization: Bearer {SECRET}"))
    assert SECRET not in line and "[redacted]" in line


def test_json_lines_carry_the_change_fields_and_nothing_unset() -> None:
    extra = fields("added", user="alice@example.com", target="AWS-Prod-Admin", mapping=None)
    line = json.loads(JsonFormatter().format(_record("+ alice", **extra)))
    assert line["event"] == "added" and line["user"] == "alice@example.com"
    assert line["target"] == "AWS-Prod-Admin" and "mapping" not in line
    assert {"at", "level", "logger", "message"} <= line.keys()


def test_run_logs_changes_by_default_and_one_shot_verbs_only_when_asked() -> None:
    assert level_for(0, quiet=False) == logging.INFO
    assert level_for(0, quiet=True) == logging.WARNING
    assert level_for(1, quiet=True) == logging.INFO
    assert level_for(2, quiet=True) == logging.DEBUG


def test_counts_read_as_words() -> None:
    assert [plural(1, "user"), plural(2, "user"), plural(1, "anomaly")] == [
        "1 user",
        "2 users",
        "1 anomaly",
    ]
    assert plural(3, "anomaly") == "3 anomalies" and plural(0, "day") == "0 days"
