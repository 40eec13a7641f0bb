"""What every format implements, and the spool that lets a format put the anomalies first while
the rows stream: rows are written to a temporary file and copied after the header."""

from __future__ import annotations

import shutil
import tempfile
from typing import IO, Protocol, TextIO

from bridge.report.provenance import RowDigest
from bridge.report.rows import GrantRow
from bridge.report.summary import Summary

# Rows stay in memory up to this many characters, then go to a temporary file (a string buffer
# holds up to four bytes a character).
SPOOL_BYTES = 1024 * 1024


class Renderer(Protocol):
    # The digest of the rows as this format's provenance states it (CSV: of its own lines).
    digest: RowDigest

    def row(self, row: GrantRow) -> None: ...

    def finish(self, summary: Summary) -> None: ...


class Spool:
    def __init__(self) -> None:
        self.file: IO[str] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (closed in copy_to)
            max_size=SPOOL_BYTES, mode="w+", encoding="utf-8"
        )

    def write(self, text: str) -> None:
        self.file.write(text)

    def copy_to(self, out: TextIO) -> None:
        self.file.seek(0)
        shutil.copyfileobj(self.file, out)
        self.file.close()
