"""deploy/kubernetes/*.yaml and deploy/ecs/task-definition.json: parsed and checked for the
shape each platform needs and for the properties the docs promise (non-root, /healthz probes
on the service port, no secret in plain configuration). No cluster or AWS account is used."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bridge.cli import parser
from bridge.config import ServiceConfig, config_from_dict
from bridge.http import parse_listen

yaml = pytest.importorskip("yaml", reason="PyYAML not installed (pip install -e '.[docs]')")

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
ECS = ROOT / "deploy" / "ecs" / "task-definition.json"
PORT = parse_listen(ServiceConfig().listen)[1]
SECRETISH = re.compile(r"SECRET|TOKEN|PASSWORD|STORE__URL", re.I)


def _docs() -> list[dict[str, Any]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        out.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return out


def _kind(kind: str) -> dict[str, Any]:
    (doc,) = [d for d in _docs() if d["kind"] == kind]
    return doc


def _container() -> dict[str, Any]:
    (c,) = _kind("Deployment")["spec"]["template"]["spec"]["containers"]
    return c


def test_every_kubernetes_manifest_has_api_version_kind_and_name() -> None:
    docs = _docs()
    assert {d["kind"] for d in docs} >= {
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Deployment",
        "Service",
        "Secret",
    }
    for d in docs:
        assert d.get("apiVersion") and d.get("kind") and d["metadata"].get("name"), d
        if d["kind"] != "Namespace":
            assert d["metadata"]["namespace"] == "pim-bridge"


def test_pod_runs_as_non_root_with_a_read_only_root_filesystem() -> None:
    pod = _kind("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    sc = _container()["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]


def test_probes_ask_healthz_on_the_service_port() -> None:
    c = _container()
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    for probe in ("livenessProbe", "readinessProbe"):
        get = c[probe]["httpGet"]
        assert get["path"] == "/healthz"
        assert ports[get["port"]] == PORT
    assert c["livenessProbe"]["failureThreshold"] > c["readinessProbe"]["failureThreshold"], (
        "a Graph outage must make the pod unready long before it is restarted"
    )
    service = _kind("Service")
    assert service["spec"]["ports"][0]["port"] == PORT


def test_deployment_runs_a_single_replica_replaced_not_rolled() -> None:
    spec = _kind("Deployment")["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"]["type"] == "Recreate"


def test_container_arguments_are_a_valid_cli_command() -> None:
    args = parser().parse_args(_container()["args"])
    assert args.verb == "run"


def test_configmap_holds_a_valid_config_that_listens_on_all_interfaces() -> None:
    text = _kind("ConfigMap")["data"]["pim-bridge.toml"]
    data = tomllib.loads(text)
    config = config_from_dict(data, {"PIM_BRIDGE_STORE__URL": "sqlite:///x.db"})
    assert config.entra.credential == "workload_identity"
    assert parse_listen(config.service.listen) == ("0.0.0.0", PORT)
    assert not SECRETISH.search(text.replace("credential", "")), "no secret in the ConfigMap"


def test_entra_token_is_projected_for_workload_identity_federation() -> None:
    c = _container()
    env = {e["name"]: e for e in c["env"]}
    token_file = Path(env["AZURE_FEDERATED_TOKEN_FILE"]["value"])
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in _kind("Deployment")["spec"]["template"]["spec"]["volumes"]}
    (source,) = volumes["azure-token"]["projected"]["sources"]
    sat = source["serviceAccountToken"]
    assert sat["audience"] == "api://AzureADTokenExchange"
    assert Path(mounts["azure-token"]) / sat["path"] == token_file
    assert sat["expirationSeconds"] >= 600


def test_secrets_reach_the_pod_only_through_secret_references() -> None:
    for e in _container()["env"]:
        if SECRETISH.search(e["name"]) and not e["name"].endswith("_FILE"):
            assert "secretKeyRef" in e.get("valueFrom", {}), e["name"]


def test_service_account_names_an_iam_role_for_irsa() -> None:
    sa = _kind("ServiceAccount")
    arn = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@/-]+", arn)


# -- ECS ---------------------------------------------------------------------------------------


def _task() -> dict[str, Any]:
    return json.loads(ECS.read_text())


def _ecs_container() -> dict[str, Any]:
    (c,) = _task()["containerDefinitions"]
    return c


def test_ecs_task_definition_has_the_fields_fargate_needs() -> None:
    task = _task()
    assert task["requiresCompatibilities"] == ["FARGATE"]
    assert task["networkMode"] == "awsvpc"
    assert task["cpu"] and task["memory"]
    assert task["taskRoleArn"].startswith("arn:aws:iam::")
    assert task["executionRoleArn"].startswith("arn:aws:iam::")


def test_ecs_container_is_non_root_read_only_and_health_checked() -> None:
    c = _ecs_container()
    assert c["user"].split(":")[0] not in {"0", "root"}
    assert c["readonlyRootFilesystem"] is True
    check = " ".join(c["healthCheck"]["command"])
    assert f"127.0.0.1:{PORT}/healthz" in check
    assert c["portMappings"][0]["containerPort"] == PORT


def test_ecs_secrets_come_from_secrets_manager_or_ssm_never_plain_environment() -> None:
    c = _ecs_container()
    for e in c["environment"]:
        assert not SECRETISH.search(e["name"]), e["name"]
    for s in c["secrets"]:
        assert re.match(r"arn:aws:(secretsmanager|ssm):", s["valueFrom"]), s


@pytest.mark.parametrize("verb", ["run", "check-config"])
def test_ecs_entry_point_hands_the_cli_a_valid_command(verb: str) -> None:
    c = _ecs_container()
    script = c["entryPoint"][2]
    exec_part = script.split("exec ", 1)[1]
    argv = shlex.split(exec_part.replace('"$@"', verb))
    assert argv[0] == "pim-bridge"
    assert parser().parse_args(argv[1:]).verb == verb
