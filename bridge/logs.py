"""The process's log: its level per verbosity, text or JSON lines, and the structured fields a
change or a cycle carries (`event`, `user`, `target`, `mapping`, and a cycle's figures).

Every line passes `redact()` on its way out: a message quoting an upstream error may echo a
credential, and a log is read by more people than the ledger.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from bridge.redact import redact

LogFormat = Literal["text", "json"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# The structured fields a record may carry (`extra=fields(...)`), in the order JSON writes them.
FIELDS = (
    "event",
    "user",
    "target",
    "mapping",
    "kind",
    "reason",
    "read_groups",
    "added",
    "removed",
    "held",
    "failed",
    "duration_seconds",
)

# Third-party clients log request URLs and headers at INFO.
_NOISY = ("azure", "httpx", "httpcore", "botocore", "urllib3", "werkzeug")


def fields(event: str, **values: object) -> dict[str, object]:
    """The `extra` of a record: its event and whichever structured fields are known."""
    return {"event": event, **{k: v for k, v in values.items() if v is not None}}


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: at, level, logger, message, then the structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


def level_for(verbosity: int, *, quiet: bool) -> int:
    """`run` logs every change by default; a verb that prints its own result (`sync`, `health`)
    logs warnings only unless asked (-v); -vv adds debug lines and the libraries' own."""
    if verbosity >= 2:
        return logging.DEBUG
    return logging.INFO if verbosity == 1 or not quiet else logging.WARNING


class _Stderr(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is at the time: a caller that swaps it (a test capturing
    output, a wrapper) is followed, and a stream closed since is never written to."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


_handler: logging.Handler | None = None


def configure(verbosity: int, fmt: LogFormat = "text", *, quiet: bool = True) -> None:
    """(Re)configure the process's log: called once the arguments are parsed, and again when the
    config file asks for JSON. Only the handler installed here is replaced."""
    global _handler
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    _handler = _Stderr()
    _handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(_handler)
    root.setLevel(level_for(verbosity, quiet=quiet))
    library = logging.INFO if verbosity >= 2 else logging.WARNING
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Alembic announces every migration step at INFO: only -vv shows them.
    logging.getLogger("alembic").setLevel(library)
    # "skipped: maximum number of running instances" only says a poll outlasted its interval.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
