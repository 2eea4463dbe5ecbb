"""deploy/compose.yaml runs the scaled mode with the commands the slow scaled-mode test runs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from deploy.deployments import DEPLOY_COMMAND, SERVER_COMMAND, worker_command
from tests.conftest import require

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_the_compose_services_run_the_tested_commands() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text("utf-8"))
    services = compose["services"]
    assert tuple(services["prefect-server"]["command"]) == SERVER_COMMAND
    assert tuple(services["deploy"]["command"]) == DEPLOY_COMMAND
    assert tuple(services["worker-1"]["command"]) == worker_command(1)
    assert tuple(services["worker-2"]["command"]) == worker_command(2)
    assert "--no-scheduler" in " ".join(services["web"]["command"])
    for name in ("deploy", "worker-1", "worker-2", "web"):
        env = services[name]["environment"]
        assert env["DUBAN_DATABASE_URL"].startswith("postgresql+psycopg://"), name
        assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api", name
    unit = (DEPLOY / "systemd" / "duban.service").read_text("utf-8")
    assert "ExecStart=/opt/duban/.venv/bin/duban serve" in unit
    assert "SuccessExitStatus=143" in unit


def test_docker_compose_accepts_the_file() -> None:
    """docker compose's own check of the file (the v2 plugin, else Debian's docker-compose)."""
    docker = shutil.which("docker")
    if docker is not None and subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        compose = [docker, "compose"]
    else:
        legacy = shutil.which("docker-compose")
        require(legacy is not None,
                "neither docker compose nor docker-compose is installed (scripts/ci-deps.sh "
                "installs docker-compose)")
        compose = [str(legacy)]
    result = subprocess.run([*compose, "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
