"""The layering: pyproject.toml's import-linter contracts hold on the tree and catch an import that
runs back up; importing saas.features registers every feature's tasks and jobs."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import saas.features

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--no-logo", "--config", project / "pyproject.toml"],
        check=False,
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_with(tmp_path: Path, module: str, line: str) -> Path:
    """The package and its contracts in tmp_path, `line` appended to `module`."""
    shutil.copytree(ROOT / "saas", tmp_path / "saas", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    path = tmp_path / (module.replace(".", "/") + ".py")
    path.write_text(f"{path.read_text()}\n{line}\n")
    return tmp_path


def test_the_tree_keeps_every_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def test_the_job_layer_importing_a_feature_breaks_the_build(tmp_path):
    result = lint_imports(copy_with(tmp_path, "saas.jobs.clock", "import saas.billing"))
    assert result.returncode == 1, result.stdout
    assert "saas.jobs is not allowed to import saas.billing" in result.stdout
    assert "saas.jobs.clock -> saas.billing" in result.stdout


def test_a_feature_importing_the_app_factory_breaks_the_build(tmp_path):
    project = copy_with(tmp_path, "saas.contact.services", "from saas import create_app")
    result = lint_imports(project)
    assert result.returncode == 1, result.stdout
    assert "saas.contact.services is not allowed to import saas:" in result.stdout


def test_a_local_import_of_extensions_in_the_database_leaf_breaks_the_build(tmp_path):
    local_import = "def engine():\n    from saas.extensions import db\n\n    return db.engine"
    result = lint_imports(copy_with(tmp_path, "saas.database", local_import))
    assert result.returncode == 1, result.stdout
    assert "saas.database is not allowed to import saas.extensions" in result.stdout


def test_importing_the_features_loads_every_tasks_and_jobs_module():
    declared = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in [*ROOT.glob("saas/*/tasks.py"), *ROOT.glob("saas/*/jobs.py")]
    } | {"saas.jobs.maintenance", "saas.jobs.runner"}
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, saas.features; print(*sorted(sys.modules))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert declared <= set(loaded), declared - set(loaded)
    assert {feature.__name__ for feature in saas.features.FEATURES} >= {
        module.rsplit(".", 1)[0] for module in declared if not module.startswith("saas.jobs.")
    }
