"""deploy/Dockerfile: checked as text. Docker cannot build or run here (no daemon), so these
tests read the file the way `docker build` would and compare it with the bridge's own config."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from bridge.config import ServiceConfig
from bridge.http import parse_listen

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def _service_port() -> int:
    return parse_listen(ServiceConfig().listen)[1]


def test_image_runs_as_a_non_root_user() -> None:
    users = [arg for word, arg in _final_stage() if word == "USER"]
    assert users, "the final stage sets no USER, so the container runs as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}


def test_image_is_built_on_a_slim_python_311_base() -> None:
    bases = [arg.split()[0] for word, arg in _instructions() if word == "FROM"]
    assert all(re.fullmatch(r"python:3\.11-slim(-\w+)?", b) for b in bases), bases


def test_healthcheck_asks_healthz_on_the_port_the_service_listens_on() -> None:
    checks = [arg for word, arg in _final_stage() if word == "HEALTHCHECK"]
    assert len(checks) == 1
    port = _service_port()
    assert f"127.0.0.1:{port}/healthz" in checks[0]
    env = " ".join(arg for word, arg in _final_stage() if word == "ENV")
    assert f"PIM_BRIDGE_SERVICE__LISTEN=0.0.0.0:{port}" in env, (
        "the image must listen on all interfaces at the default port so probes reach /healthz"
    )
    assert ("EXPOSE", str(port)) in _final_stage()


def test_image_keeps_the_ledger_in_a_directory_the_user_owns() -> None:
    stage = _final_stage()
    env = " ".join(arg for word, arg in stage if word == "ENV")
    assert "PIM_BRIDGE_STORE__URL=sqlite:////var/lib/pim-bridge/" in env
    run = " ".join(arg for word, arg in stage if word == "RUN")
    assert re.search(r"install -d -o pim-bridge -g pim-bridge -m 0700 /var/lib/pim-bridge", run)
    assert ("WORKDIR", "/var/lib/pim-bridge") in stage


def test_image_starts_the_service_verb() -> None:
    stage = dict(_final_stage())
    assert stage["ENTRYPOINT"] == '["pim-bridge"]'
    assert stage["CMD"] == '["run"]'


def test_build_context_filter_lets_through_every_copied_path() -> None:
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().splitlines()
    rules = [r.strip() for r in ignore if r.strip() and not r.startswith("#")]

    def excluded(path: str) -> bool:
        result = False
        for rule in rules:
            negate = rule.startswith("!")
            pattern = rule[1:].rstrip("/") if negate else rule
            if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
                result = not negate
        return result

    copied = [
        src
        for word, arg in _instructions()
        if word == "COPY" and not arg.startswith("--from")
        for src in arg.split()[:-1]
    ]
    assert copied
    for src in copied:
        assert (ROOT / src).exists(), src
        assert not excluded(src.rstrip("/")), f"{src} is excluded from the build context"
    assert excluded("tests") and excluded(".venv")
