from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.postgres import fresh_database, postgres_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture
def pg_url(pg_server: str) -> str:
    return fresh_database(pg_server, f"t_{uuid.uuid4().hex[:12]}")
