"""What `redact` takes out of upstream error text, and what it leaves for a person to read."""

from __future__ import annotations

import pytest

from bridge.graph.client import Reply, call_failure
from bridge.redact import redact

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl"
ENTRA_SECRET = "abc8Q~0123456789abcdefghijklmnopqrstuvwx"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("rejected; headers: authorization: Bearer opaque-token-1; accept: */*", "opaque-token-1"),
        ('{"Authorization": "Bearer opaque-token-2"}', "opaque-token-2"),
        (f"token {JWT} was not accepted", JWT),
        (f"client_secret={ENTRA_SECRET}&grant_type=client_credentials", ENTRA_SECRET),
        (f"AADSTS7000215: Invalid client secret provided: {ENTRA_SECRET}", ENTRA_SECRET),
        ("client_assertion=assert.ion.value&scope=x", "assert.ion.value"),
        ('"access_token": "opaque-token-3", "expires_in": 3599', "opaque-token-3"),
        ("Proxy-Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("https://blob/x?sv=2022&sig=AbC%2Bdef&se=1", "AbC%2Bdef"),
    ],
)
def test_credentials_an_upstream_echoes_are_redacted(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned and "[redacted]" in cleaned


def test_what_a_person_needs_to_read_survives() -> None:
    text = (
        "group 0b2c3d4e-1111-2222-3333-444444444444: reading instances failed after 3 retries: "
        "HTTP 401 InvalidAuthenticationToken: Access token validation failure."
    )
    assert redact(text) == text


def test_graph_error_text_and_call_failures_are_redacted() -> None:
    echoed = {"error": {"code": "BadRequest", "message": "Headers: Authorization: Bearer t-1"}}
    assert "t-1" not in Reply(400, {}, echoed).error_text()
    failure = call_failure(RuntimeError(f"token request failed: client_secret={ENTRA_SECRET}"))
    assert ENTRA_SECRET not in failure.error_text()
