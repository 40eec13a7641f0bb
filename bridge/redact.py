"""Credentials taken out of text an upstream service wrote, before the bridge logs or stores it.

Error messages are the upstream's own words: a proxy or a failing service may echo the request
it was sent, `Authorization` header and all, and an identity endpoint may repeat the form it
was posted. Whatever a person or a ledger will read of such text goes through `redact()` first.
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"

# Names under which a credential travels: a header, a form field, a JSON key, a query parameter.
_SECRET_NAMES = (
    r"authorization|proxy-authorization|x-api-key|api[-_]?key|cookie|set-cookie|"
    r"client[-_]?secret|client[-_]?assertion|(?:access|refresh|id)[-_]?token|"
    r"password|secret|token|sig|signature"
)
_PATTERNS = (
    # "Authorization: Bearer x", "client_secret=x", '"access_token": "x"', "?sig=x": the value.
    re.compile(
        rf"""(?P<name>["']?\b(?:{_SECRET_NAMES})\b["']?\s*[:=]\s*)"""
        r"""(?P<value>"[^"]*"|'[^']*'|(?:(?:bearer|basic|digest|negotiate)[ \t]+)?[^\s,;&"'}]+)""",
        re.IGNORECASE,
    ),
    # A bearer or basic credential wherever it appears.
    re.compile(r"(?P<name>\b(?:bearer|basic)\s+)(?P<value>[\w\-.~+/]+=*)", re.IGNORECASE),
    # A JSON Web Token (header.payload.signature, each base64url; the header starts "eyJ").
    re.compile(r"(?P<name>)(?P<value>\beyJ[\w-]+\.[\w-]+\.[\w-]*)"),
    # An Entra client secret: three characters, a digit, "Q~", then 31 or more.
    re.compile(r"(?P<name>)(?P<value>(?<![\w\-.~])[\w\-.~]{3}\dQ~[\w\-.~]{31,})"),
)


def redact(text: str) -> str:
    """`text` with every credential it seems to carry replaced by `[redacted]`."""
    for pattern in _PATTERNS:
        text = pattern.sub(_keep_name, text)
    return text


def _keep_name(match: re.Match[str]) -> str:
    value = match.group("value")
    if value == REDACTED or value.startswith(("[redacted", '"[redacted', "'[redacted")):
        return match.group(0)
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group('name')}{quote}{REDACTED}{quote}"
