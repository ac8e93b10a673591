"""One settings registry (casebank.envs): the only module that reads CASEBANK_* variables from the
environment, the table in docs/env.md generated from it, and no environment written at import time."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import serving.config  # noqa: F401  (registers ServerSettings, as the `casebank` command does)
from casebank import envs
from casebank.config import Settings, data_dir

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("casebank", "agent", "serving", "lab", "cli", "seeds")
# Reads of the environment that are not of a CASEBANK_* variable, each with its reason.
OTHER_READS = {
    "casebank/envs.py": "the registry itself",
    "casebank/llm/server.py": "build_env: the vLLM child's environment is this process's, copied whole",
    "casebank/llm/model_files.py": "TQDM_DISABLE, set around tqdm's import and restored",
}


def environ_reads(path: Path) -> list[int]:
    """Lines where a module touches os.environ or calls os.getenv / os.putenv."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return sorted({node.lineno for node in ast.walk(tree)
                   if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "putenv", "environb"}
                   and isinstance(node.value, ast.Name) and node.value.id == "os"}
                  | {node.lineno for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module == "os"
                     and any(a.name in {"environ", "getenv"} for a in node.names)})


def test_only_the_registry_reads_the_environment() -> None:
    found = {str(p.relative_to(ROOT)): lines for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
             if (lines := environ_reads(p))}
    assert set(found) == set(OTHER_READS), found


def casebank_keys(path: Path) -> list[int]:
    """Lines where a CASEBANK_* name is read another way: os.environ[...] / .get(...) / getenv(...) with that
    name, or a click/typer option's envvar=."""
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def named(node: ast.AST) -> bool:
        return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(envs.PREFIX)

    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and named(node.slice) and "environ" in ast.unparse(node.value):
            lines.add(node.lineno)
        if isinstance(node, ast.Call):
            if any(k.arg == "envvar" and named(k.value) for k in node.keywords):
                lines.add(node.lineno)
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in {"get", "getenv", "pop", "setdefault"} and node.args \
                    and named(node.args[0]) and (func.attr == "getenv" or "environ" in ast.unparse(func.value)):
                lines.add(node.lineno)
    return sorted(lines)


def test_no_casebank_variable_is_read_outside_the_registry() -> None:
    found = {str(p.relative_to(ROOT)): lines for pkg in (*PACKAGES, "benchmarks", "scripts")
             for p in sorted((ROOT / pkg).rglob("*.py")) if (lines := casebank_keys(p))}
    assert set(found) <= {"casebank/envs.py"}, found


def test_the_key_scan_sees_a_read(tmp_path: Path) -> None:
    planted = tmp_path / "m.py"
    planted.write_text("import os, typer\na = os.environ['CASEBANK_X']\nb = os.environ.get('CASEBANK_Y')\n"
                       "c = os.getenv('CASEBANK_Z')\nd = typer.Option(envvar='CASEBANK_W')\ne = os.environ.get('HOME')\n"
                       "f = envs.VARIABLES['CASEBANK_CONFIG']\n")  # a registry lookup is not a read
    assert casebank_keys(planted) == [2, 3, 4, 5]


def test_the_scan_sees_a_read(tmp_path: Path) -> None:
    planted = tmp_path / "m.py"
    planted.write_text("import os\nfrom os import environ\nx = os.environ.get('CASEBANK_DATA_DIR')\n")
    assert environ_reads(planted) == [2, 3]


def test_docs_table_is_the_registry() -> None:
    assert (ROOT / "docs" / "env.md").read_text(encoding="utf-8") == envs.markdown(), (
        "docs/env.md is stale: casebank env --markdown > docs/env.md")


def test_every_variable_has_a_line_and_a_unique_name() -> None:
    rows = envs.rows()
    names = [r.name for r in rows]
    assert len(names) == len(set(names)) and all(n.startswith(envs.PREFIX) for n in names)
    assert {"CASEBANK_DATA_DIR", "CASEBANK_SANDBOX", "CASEBANK_LLM_URL", "CASEBANK_USER_KEYS"} <= set(names)
    assert [r.name for r in rows if not r.doc.strip()] == []


def test_readme_documents_only_registered_variables() -> None:
    import re

    from serving.config import RENAMED

    registered = {r.name for r in envs.rows()}
    documented = set(re.findall(r"\bCASEBANK_[A-Z0-9_]*[A-Z0-9]\b", (ROOT / "README.md").read_text(encoding="utf-8")))
    assert documented - registered - set(RENAMED) == set()  # the old names are documented as refused, not read


def test_an_unregistered_variable_is_refused() -> None:
    with pytest.raises(KeyError):
        envs.get("CASEBANK_NOT_A_VARIABLE")


def test_settings_read_the_environment_through_the_registry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no casebank.toml here
    monkeypatch.setenv("casebank_default_k", "7")  # any case, as pydantic-settings matches
    monkeypatch.setenv("CASEBANK_DATA_DIR", str(tmp_path / "d"))
    assert Settings().default_k == 7 and Settings().data_dir == tmp_path / "d"
    monkeypatch.setattr(envs, "prefixed", lambda: {"CASEBANK_DEFAULT_K": "9"})
    assert Settings().default_k == 9  # what the registry says wins: the settings do not read os.environ themselves


def test_data_dir_falls_back_to_the_variable_when_the_settings_file_is_broken(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("default_k = [unclosed\n")
    monkeypatch.setenv("CASEBANK_CONFIG", str(tmp_path / "bad.toml"))
    monkeypatch.setenv("CASEBANK_DATA_DIR", str(tmp_path / "d"))
    with pytest.raises(Exception):
        Settings()
    assert data_dir() == tmp_path / "d" and data_dir("given") == Path("given")


def test_importing_sets_nothing_and_the_embedder_goes_offline() -> None:
    env = {k: v for k, v in os.environ.items() if k not in envs.LIBRARY_DEFAULTS}
    code = ("import os, sys; import casebank.bank, casebank.embedding, serving.app, lab.ablate.runner, cli\n"
            "before = {k: os.environ.get(k) for k in %r}\n"
            "assert 'huggingface_hub' not in sys.modules\n"
            "casebank.embedding.Embedder().model\n"
            "import huggingface_hub.constants as c\n"
            "print(before, c.HF_HUB_OFFLINE)" % (list(envs.LIBRARY_DEFAULTS),))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    before, offline = out.stdout.strip().rsplit(" ", 1)
    assert before == str(dict.fromkeys(envs.LIBRARY_DEFAULTS)) and offline == "True"
