from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.terraform.harness import Terraform, find_plugin_dir, scratch_copy, write_cli_config


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.terraform)


@pytest.fixture(scope="session")
def terraform_binary() -> str:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not on PATH")
    return binary


@pytest.fixture(scope="session")
def terraform(terraform_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Terraform:
    plugin_dir, reason = find_plugin_dir()
    if plugin_dir is None:
        pytest.skip(reason)
    cli_config = write_cli_config(plugin_dir, tmp_path_factory.mktemp("tfcli") / "terraformrc")
    return Terraform(terraform_binary, plugin_dir, cli_config)


@pytest.fixture
def tf_tree(tmp_path: Path) -> Path:
    """A per-test copy of terraform/."""
    return scratch_copy(tmp_path)
