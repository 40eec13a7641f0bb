"""Running terraform from the tests: the binary, the local provider mirror, scratch copies.

Nothing here downloads a provider: `terraform init` gets a CLI config whose only installation
method is the filesystem mirror found by `find_plugin_dir`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
PLUGIN_DIR_ENV = "PIM_BRIDGE_TF_PLUGIN_DIR"
# A mirror lays providers out as <hostname>/<namespace>/<type>/<version>; any hostname is
# accepted here (the default registry's, in practice).
AWS_PROVIDER = Path("hashicorp", "aws", "5.100.0")

# Where a provider mirror is usually unpacked; searched only when the env var is not set.
_SEARCH_ROOTS = (
    Path("/opt"),
    Path("/usr/share"),
    Path("/usr/local/share"),
    Path.home() / ".terraform.d",
    Path.home() / ".local" / "share" / "terraform",
)
_SEARCH_DEPTH = 3
_IGNORED = shutil.ignore_patterns(
    ".terraform", ".terraform.lock.hcl", "terraform.tfstate*", "*.tfvars", "crash.log"
)


def _holds_provider(path: Path) -> bool:
    return path.is_dir() and any((host / AWS_PROVIDER).is_dir() for host in path.iterdir())


def _search(root: Path) -> Path | None:
    if not root.is_dir():
        return None
    for current, dirs, _files in os.walk(root):
        here = Path(current)
        if _holds_provider(here):
            return here
        depth = len(here.relative_to(root).parts)
        if depth >= _SEARCH_DEPTH:
            dirs.clear()
        else:
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    return None


def find_plugin_dir() -> tuple[Path | None, str]:
    """The mirror directory that contains `<host>/hashicorp/aws/5.100.0`, and why not."""
    configured = os.environ.get(PLUGIN_DIR_ENV)
    if configured:
        path = Path(configured)
        if _holds_provider(path):
            return path, ""
        return None, f"{PLUGIN_DIR_ENV}={configured} has no <host>/{AWS_PROVIDER}"
    for root in _SEARCH_ROOTS:
        found = _search(root)
        if found is not None:
            return found, ""
    roots = ", ".join(str(r) for r in _SEARCH_ROOTS)
    return None, f"no <host>/{AWS_PROVIDER} mirror: set {PLUGIN_DIR_ENV} (searched {roots})"


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass(frozen=True)
class Terraform:
    binary: str
    plugin_dir: Path
    cli_config: Path

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TF_", "AWS_")) and k != "CHECKPOINT_DISABLE"
        }
        env |= {
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
        }
        return env | (extra or {})

    def run(
        self,
        cwd: Path,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 300,
    ) -> Result:
        proc = subprocess.run(
            [self.binary, *args, "-no-color"],
            cwd=cwd,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def init(self, cwd: Path) -> Result:
        return self.run(cwd, "init", "-input=false", "-backend=false")


def write_cli_config(plugin_dir: Path, path: Path) -> Path:
    """A CLI config that installs hashicorp/aws from the mirror and nothing from anywhere else."""
    path.write_text(
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{plugin_dir.as_posix()}"\n'
        '    include = ["hashicorp/aws"]\n'
        "  }\n"
        "}\n",
        encoding="utf-8",
    )
    return path


def scratch_copy(dest: Path) -> Path:
    """A copy of terraform/ to run in, so no .terraform or state lands in the repository."""
    target = dest / "terraform"
    shutil.copytree(TERRAFORM_DIR, target, ignore=_IGNORED)
    return target


def modules_with_tests() -> list[str]:
    modules = TERRAFORM_DIR / "modules"
    return sorted(p.parent.parent.name for p in modules.glob("*/tests/*.tftest.hcl"))


def examples() -> list[str]:
    return sorted(p.name for p in (TERRAFORM_DIR / "examples").iterdir() if p.is_dir())
