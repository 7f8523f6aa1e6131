"""The container files, checked without a Docker daemon (none runs here): compose.yaml against
the Compose Specification's schema and for what `docker compose up` relies on; the Dockerfile's
shape; the entry point that maps process types to Procfile lines. scripts/check-image builds
and runs the image itself (in CI)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ("release", "web", "worker", "scheduler")


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_yaml_is_valid_against_the_compose_specification():
    check = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
    result = subprocess.run(
        [*check, str(ROOT / "compose.yaml")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_release_once_before_the_other_processes():
    services = compose()["services"]
    assert {*PROCESSES, "postgres", "redis", "mailpit"} <= services.keys()
    for process in PROCESSES:
        assert services[process]["command"] == [process]
        assert services[process]["build"] == "."
    assert services["release"]["restart"] == "no"
    for process in ("web", "worker", "scheduler"):
        needs = services[process]["depends_on"]
        assert needs["release"] == {"condition": "service_completed_successfully"}
        assert needs["postgres"] == needs["redis"] == {"condition": "service_healthy"}
        environment = services[process]["environment"]
        assert environment["DATABASE_URL"].startswith("postgresql://saas:saas@postgres:5432/")
        assert environment["REDIS_URL"] == "redis://redis:6379/0"
        assert (environment["MAIL_SERVER"], environment["MAIL_PORT"]) == ("mailpit", "1025")
    for store, path in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data")):
        assert "healthcheck" in services[store]
        [volume] = services[store]["volumes"]
        assert volume.split(":")[0] in compose()["volumes"] and volume.endswith(path)


def stages(dockerfile: str) -> list[str]:
    return re.split(r"^FROM ", dockerfile, flags=re.M)[1:]


def test_the_dockerfile_builds_in_two_stages_and_runs_as_a_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim$", dockerfile, re.M)
    build, final = stages(dockerfile)
    assert build.startswith("${BASE_IMAGE} AS build") and final.startswith("${BASE_IMAGE}\n")
    assert "pip install" in build and "pip install" not in final
    assert not re.search(r"apt-get|gcc|build-essential", final)
    users = re.findall(r"^USER (\S+)$", final, re.M)
    assert users and users[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["scripts/procfile-exec"]' in final and 'CMD ["web"]' in final
    version = (ROOT / ".python-version").read_text().strip()
    assert version == "3.11" and f"python:{version}-slim" in dockerfile


def test_the_entry_point_runs_a_procfile_line_or_the_command_given(tmp_path):
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "procfile-exec", tmp_path / "scripts")
    (tmp_path / "Procfile").write_text('web: echo "serving on ${PORT:-5000}"\nworker: echo w\n')
    run = tmp_path / "scripts" / "procfile-exec"
    env = {**os.environ, "PORT": "8123"}

    def output(*args: str) -> str:
        return subprocess.run(
            [run, *args], env=env, capture_output=True, text=True, check=True
        ).stdout

    assert output() == "serving on 8123\n"  # web by default
    assert output("worker") == "w\n"
    assert output("echo", "as", "given") == "as given\n"
