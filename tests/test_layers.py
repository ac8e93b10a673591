"""The import contracts (pyproject.toml, [tool.importlinter]) hold on the project, and `lint-imports` fails, naming
the import, on a copy with an upward import or an import cycle planted in it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cli", "lab", "serving", "agent", "casebank", "seeds")
LINT = str(Path(sys.executable).parent / "lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT, "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "HOME": str(root)})


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The project's packages and pyproject.toml in a temp dir, to plant imports in."""
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.jsonl", "*.safetensors"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def plant(path: Path, line: str) -> None:
    text = path.read_text()
    path.write_text(text.replace("from __future__ import annotations\n", f"from __future__ import annotations\n\n{line}\n", 1))


def test_the_project_keeps_its_contracts() -> None:
    proc = lint(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 kept, 0 broken" in proc.stdout


def test_the_copy_keeps_them_too(copy: Path) -> None:
    assert lint(copy).returncode == 0


def test_an_upward_import_breaks_the_layers(copy: Path) -> None:
    plant(copy / "casebank" / "models.py", "import agent.config  # planted")
    proc = lint(copy)
    assert proc.returncode == 1
    assert "layers: cli > lab | serving > agent > casebank > seeds BROKEN" in proc.stdout
    assert "casebank.models -> agent.config" in proc.stdout


def test_serving_and_the_lab_stay_independent(copy: Path) -> None:
    plant(copy / "serving" / "config.py", "import lab.ablate.grid  # planted")
    proc = lint(copy)
    assert proc.returncode == 1 and "serving.config -> lab.ablate.grid" in proc.stdout


def test_a_cycle_breaks_the_acyclic_contract(copy: Path) -> None:
    """The circle the retriever used to close through the bank, planted back as a lazy import."""
    path = copy / "casebank" / "retrieval.py"
    path.write_text(path.read_text() + "\n\ndef _planted() -> None:\n    from casebank.bank import CaseBank  # noqa: F401\n")
    proc = lint(copy)
    assert proc.returncode == 1
    assert "no import cycles among the modules of any package BROKEN" in proc.stdout
    assert "No cycles are allowed in casebank" in proc.stdout
