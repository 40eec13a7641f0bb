"""Where config values come from before they are validated: the TOML text, with a hint for the
slips TOML reports only by position, and the `PIM_BRIDGE_<SECTION>__<KEY>` environment
variables, each remembered by name so an error can say which one was wrong."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError

ENV_PREFIX = "PIM_BRIDGE_"

# Secret keys: rejected in the file, accepted from these environment variables.
SECRET_ENV = {
    ("entra", "client_secret"): "PIM_BRIDGE_ENTRA__CLIENT_SECRET",
    ("scim", "token"): "PIM_BRIDGE_SCIM_TOKEN",
    ("notify", "webhook_url"): "PIM_BRIDGE_NOTIFY__WEBHOOK_URL",
}

_LINE = re.compile(r"\(at line (\d+), column \d+\)")
# TOML has no integers with a leading zero: an account id written bare is a parse error.
_LEADING_ZERO = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=\s*(0\d+)\s*(#.*)?$")


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{path} is not valid TOML: {exc}{_hint(text, exc)}") from None


def _hint(text: str, exc: tomllib.TOMLDecodeError) -> str:
    at = _LINE.search(str(exc))
    lines = text.splitlines()
    if at is None or not 0 < int(at.group(1)) <= len(lines):
        return ""
    slip = _LEADING_ZERO.match(lines[int(at.group(1)) - 1])
    if slip is None:
        return ""
    key, value = slip.group(1), slip.group(2)
    what = "account ids" if "account" in key else "it"
    return f'; quote {what}: {key} = "{value}"'


def env_overrides(environ: dict[str, str]) -> dict[str, dict[str, tuple[str, str]]]:
    """Section -> key -> (raw value, the variable it came from)."""
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].partition("__")
        if section and key:
            out.setdefault(section.lower(), {})[key.lower()] = (value, name)
    for (section, key), env in SECRET_ENV.items():
        if env in environ:
            out.setdefault(section, {})[key] = (environ[env], env)
    return out


def coerce(raw: str) -> Any:
    """Env values are strings; TOML-parse them when they look like TOML scalars."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw
