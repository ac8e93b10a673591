"""`casebank doctor` and the sandbox preflight, on a real venv whose interpreter sits under a 0700 directory:
the basic mode's throw-away uid cannot start `python` there (every checker would fail), the bwrap mode can.
The commands that run episodes refuse to start, naming the cause, before any LLM is contacted."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from casebank.sandbox import preflight
from casebank.sandbox.isolation import _bwrap_probe

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the basic mode drops to a throw-away uid only as root")

CLI = "import sys; from cli import app; sys.argv[0] = 'casebank'; app()"


@pytest.fixture(scope="module")
def closed_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv under a 0700 directory, whose python sees this venv's packages (and casebank) through a .pth."""
    locked = tmp_path_factory.mktemp("closed") / "locked"
    locked.mkdir(mode=0o700)
    venv = locked / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (site / "casebank-host.pth").write_text(f"import site; site.addsitedir({sysconfig.get_path('purelib')!r})\n")
    return venv


def first_closed(path: Path) -> str:
    """The first directory on the way to `path` that a uid owning nothing cannot enter."""
    parts = path.parts
    for i in range(1, len(parts) + 1):
        d = os.path.join(*parts[:i])
        if not os.stat(d).st_mode & stat.S_IXOTH:
            return d
    raise AssertionError(f"every directory on the way to {path} is open")


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def casebank(venv: Path, *args: str, mode: str, data: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "CASEBANK_SANDBOX": mode, "CASEBANK_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", "COLUMNS": "250"}
    return subprocess.run([str(venv / "bin" / "python"), "-c", CLI, *args], capture_output=True, text=True, env=env, timeout=timeout)


def rows(proc: subprocess.CompletedProcess) -> dict[str, dict]:
    return {row["check"]: row for row in json.loads(proc.stdout)}


def test_basic_mode_doctor_names_python_and_the_closed_directory(closed_venv: Path, tmp_path: Path) -> None:
    closed = first_closed(closed_venv / "bin")
    proc = casebank(closed_venv, "doctor", "--json", "--no-llm", mode="basic", data=tmp_path / "data")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = rows(proc)
    python = found["python in the sandbox"]
    assert not python["ok"] and python["blocking"]
    assert "command not found" in python["found"] and f"cannot enter {closed}," in python["found"]
    assert "bubblewrap" in python["fix"] and closed in python["fix"]
    assert found["embedder"]["ok"] and found["checkpointer"]["ok"] and found["case bank"]["ok"]  # only the sandbox is wrong
    table = casebank(closed_venv, "doctor", "--no-llm", mode="basic", data=tmp_path / "data")
    assert table.returncode == 1 and "✗" in table.stdout and "python in the sandbox" in table.stdout and "1 blocking problem" in table.stdout


def test_basic_mode_ablate_refuses_to_start_before_any_episode_or_llm_call(closed_venv: Path, tmp_path: Path) -> None:
    suite = tmp_path / "tasks.jsonl"
    suite.write_text(json.dumps({"id": "w-alpha", "family": "general", "instruction": "Write the word alpha into a.txt.",
                                 "check": "assert open('a.txt').read().strip() == 'alpha'\n"}) + "\n")
    run_dir = tmp_path / "run"
    started = time.monotonic()
    proc = casebank(closed_venv, "ablate", "--tasks", str(suite), "--strategy", "none", "--model", "scripted", "--llm-url", dead_url(),
                    "--out", str(run_dir), mode="basic", data=tmp_path / "data", timeout=60)
    assert time.monotonic() - started < 60
    assert proc.returncode != 0
    err = " ".join(proc.stderr.split())
    assert "python in the sandbox" in err and "command not found" in err and first_closed(closed_venv / "bin") in err, err
    assert "cannot reach the LLM" not in err  # the preflight came first
    assert not (run_dir / "episodes.jsonl").exists()
    # the same for a single episode
    proc = casebank(closed_venv, "run", "--task", "w-alpha", "--tasks", str(suite), "--llm-url", dead_url(), mode="basic", data=tmp_path / "data")
    assert proc.returncode == 1 and "python in the sandbox" in proc.stderr


@pytest.mark.skipif(not _bwrap_probe().works, reason="bubblewrap is not usable here (make system-deps)")
def test_bwrap_mode_doctor_passes_with_no_llm_served(closed_venv: Path, tmp_path: Path) -> None:
    proc = casebank(closed_venv, "doctor", "--json", "--llm-url", dead_url(), mode="auto", data=tmp_path / "data")
    found = rows(proc)
    assert found["sandbox mode"]["ok"] and found["sandbox mode"]["found"].startswith("bwrap")
    assert found["python in the sandbox"]["ok"], found["python in the sandbox"]
    assert str(closed_venv) in found["python in the sandbox"]["found"]  # the venv's own python ran, not another
    llm = found["LLM"]
    assert not llm["ok"] and not llm["blocking"] and "casebank llm serve" in llm["fix"]
    assert proc.returncode == 0, proc.stdout


def test_preflight_is_cached_per_mode_and_raises_with_the_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(preflight, "python_finding", lambda: calls.append(1) or preflight.Finding(check="python in the sandbox", ok=False, found="x", fix="y"))
    preflight._preflight.cache_clear()
    monkeypatch.setenv("CASEBANK_SANDBOX", "basic")
    for _ in range(3):
        with pytest.raises(preflight.SandboxBroken) as e:
            preflight.require_sandbox()
    assert e.value.finding.fix == "y" and "fix: y" in str(e.value) and len(calls) == 1
    preflight._preflight.cache_clear()


def test_the_wrong_interpreter_in_the_sandbox_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `python` that runs but is not this venv's (say /usr/bin/python) would check tasks without our packages."""
    monkeypatch.setattr(preflight, "_PROBE", "print('casebank-preflight', '/usr')")
    found = preflight.python_finding()
    assert not found.ok and found.blocking and "another interpreter (/usr)" in found.found
