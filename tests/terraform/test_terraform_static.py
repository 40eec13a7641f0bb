"""Formatting, example validation from the mirror, and the modules' `terraform test` runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.terraform.harness import TERRAFORM_DIR, Terraform, examples, modules_with_tests


def test_terraform_files_are_formatted(terraform_binary: str) -> None:
    proc = subprocess.run(
        [terraform_binary, "fmt", "-check", "-recursive", "-list=true", "-no-color", "."],
        cwd=TERRAFORM_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "PATH": ""},
    )
    assert proc.returncode == 0, f"run `terraform fmt -recursive terraform/`: {proc.stdout}"


def test_every_module_ships_terraform_tests() -> None:
    modules = sorted(p.name for p in (TERRAFORM_DIR / "modules").iterdir() if p.is_dir())
    assert modules_with_tests() == modules
    assert examples() == ["organization", "single-account"]


@pytest.mark.parametrize("example", examples())
def test_example_initialises_from_the_mirror_and_validates(
    terraform: Terraform, tf_tree: Path, example: str
) -> None:
    work = tf_tree / "examples" / example
    init = terraform.init(work)
    assert init.returncode == 0, init.output
    [provider] = (work / ".terraform" / "providers").glob("*/hashicorp/aws")
    assert [p.name for p in provider.iterdir()] == ["5.100.0"]
    validate = terraform.run(work, "validate")
    assert validate.returncode == 0, validate.output


# The examples' tfvars are planned against a mocked provider (no AWS call): every required
# variable must be set there, every value must pass validation, and the rendered config must
# name each mapping.
_EXAMPLE_PLAN = """
mock_provider "aws" {
  mock_data "aws_ssoadmin_instances" {
    defaults = {
      arns               = ["arn:aws:sso:::instance/ssoins-1111111111111111"]
      identity_store_ids = ["d-1111111111"]
    }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "444444444444" }
  }
  mock_data "aws_ssoadmin_permission_set" {
    defaults = { arn = "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-00000000000000aa" }
  }
}

run "plans_with_the_example_tfvars" {
  command = plan

  assert {
    condition     = strcontains(output.bridge_config, "[[mappings]]")
    error_message = "no [[mappings]] rendered"
  }
}
"""


@pytest.mark.parametrize("example", examples())
def test_example_tfvars_plan_and_render_the_bridge_config(
    terraform: Terraform, tf_tree: Path, example: str
) -> None:
    work = tf_tree / "examples" / example
    tfvars = (work / "terraform.tfvars.example").read_text(encoding="utf-8")
    (work / "terraform.tfvars").write_text(tfvars, encoding="utf-8")
    (work / "tests").mkdir()
    (work / "tests" / "example.tftest.hcl").write_text(_EXAMPLE_PLAN, encoding="utf-8")
    assert terraform.init(work).returncode == 0
    result = terraform.run(work, "test", timeout=240)
    assert result.returncode == 0, result.output
    assert "1 passed, 0 failed" in result.stdout, result.stdout


@pytest.mark.parametrize("module", modules_with_tests())
def test_module_terraform_test_passes(terraform: Terraform, tf_tree: Path, module: str) -> None:
    work = tf_tree / "modules" / module
    init = terraform.init(work)
    assert init.returncode == 0, init.output
    result = terraform.run(work, "test", timeout=240)
    assert result.returncode == 0, result.output
    assert " 0 failed" in result.stdout and " 0 passed" not in result.stdout, result.stdout
