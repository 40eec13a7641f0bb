"""`pim-bridge status`: who holds what now, from the ledger alone (`rows`), printed as a table
or JSON (`render`)."""

from __future__ import annotations

from datetime import datetime
from typing import TextIO

from bridge.config import Config
from bridge.report.names import Names
from bridge.status.filters import StatusFilter
from bridge.status.render import FORMATS, print_status
from bridge.status.rows import Status, read_status
from bridge.store import open_for_reading

__all__ = ["FORMATS", "Status", "StatusFilter", "print_status", "read_status", "show_status"]


def show_status(
    config: Config, f: StatusFilter, fmt: str, now: datetime, out: TextIO, err: TextIO
) -> int:
    """Print the status; 1 (said on `err`) when a filter names nothing known, else 0."""
    names = Names.from_config(config)
    ledger = open_for_reading(config.store.url)
    try:
        with ledger.status_reader() as reader:
            users = reader.user_names()
            why = f.unknown(users, {*names.entra_group_of, *reader.mappings()})
            if why is not None:
                err.write(f"pim-bridge: status: {why}\n")
                return 1
            status = read_status(reader, names, now, f)
    finally:
        ledger.close()
    print_status(status, fmt, out)
    return 0
