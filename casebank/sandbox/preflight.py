"""Does the sandbox work here?  The rows `casebank doctor` prints for it, and the preflight that every
command running agent episodes does before its first one.

A task's checker is `python - <<heredoc` run inside the sandbox (check.checker_command).  When that
`python` cannot start there, every episode fails its check and the numbers of a whole run are zeros that
look like results.  The classic way to get there: root, no bubblewrap (so the basic mode), and a venv whose
interpreter lives under a 0700 directory such as /root (pyenv): the throw-away uid the command runs under
cannot enter it, and bash answers `python: command not found`.

`require_sandbox()` runs that probe once per process (and mode): one real command, through the same
checker_command and the same isolation, in well under a second.  A failure raises SandboxBroken, whose
`finding` names the cause (the directory the command's uid cannot enter) and the fix.
"""

from __future__ import annotations

import functools
import os
import stat
import sys
import tempfile
from pathlib import Path

from pydantic import BaseModel

from casebank import envs
from casebank.sandbox import isolation
from casebank.sandbox.check import checker_command
from casebank.sandbox.isolation import MODE_ENV, Limits, SandboxUnavailable

__all__ = ["Finding", "SandboxBroken", "require_sandbox", "sandbox_findings", "python_finding"]

INSTALL_BWRAP = "install bubblewrap: `make system-deps` (or `apt-get install bubblewrap`)"
_PROBE = "import sys\nprint('casebank-preflight', sys.prefix)"


class Finding(BaseModel):
    """One row of `casebank doctor`: what was checked, what was found, and the fix when it failed."""

    check: str
    ok: bool
    found: str
    fix: str = ""
    blocking: bool = True  # a failed blocking row: doctor exits 1, and commands that need it refuse to start

    @property
    def fails(self) -> bool:
        return not self.ok and self.blocking


class SandboxBroken(SandboxUnavailable):
    """Commands cannot run here as the checkers run them; `finding` says why and how to fix it."""

    def __init__(self, finding: Finding):
        self.finding = finding
        super().__init__(f"{finding.check}: {finding.found}" + (f"\nfix: {finding.fix}" if finding.fix else ""))


def _want() -> str:
    return envs.get(MODE_ENV).strip().lower() or "auto"


def mode_finding() -> Finding:
    """Which mode `auto` (or CASEBANK_SANDBOX) picks, and whether bubblewrap's probe passes."""
    want = _want()
    try:
        mode = isolation.sandbox_mode()
    except SandboxUnavailable as e:
        return Finding(check="sandbox mode", ok=False, found=str(e),
                       fix=f"unset {MODE_ENV}, or {INSTALL_BWRAP}" if want == "bwrap" else f"set {MODE_ENV} to auto, bwrap or basic")
    probe = isolation._bwrap_probe()  # cached: the run above already did it where it was needed
    if mode == "bwrap":
        return Finding(check="sandbox mode", ok=True, found=f"bwrap ({'with' if probe.seccomp else 'without'} seccomp)")
    if want == "basic":
        found = f"basic ({MODE_ENV}=basic)" + ("; bubblewrap works here" if probe.works else f"; bubblewrap: {probe.error}")
        return Finding(check="sandbox mode", ok=False, blocking=False, found=found,
                       fix=f"unset {MODE_ENV} for the bwrap mode" if probe.works else INSTALL_BWRAP)
    return Finding(check="sandbox mode", ok=False, blocking=False, found=f"basic: bubblewrap is unusable ({probe.error})",
                   fix=INSTALL_BWRAP + "; it needs user namespaces (or root) and /usr/bin/bwrap")


def _sandbox_uid_is_other() -> bool:
    """In the basic mode as root, commands run under a throw-away uid that owns nothing on the host."""
    return isolation._is_root()


def unreachable_directory() -> str | None:
    """The first directory on the way to this interpreter (the venv's bin on PATH, the real binary, the
    standard library) that the basic mode's command cannot enter; None when every one is reachable."""
    targets = [isolation._python_bin_dir(), os.path.dirname(os.path.realpath(sys.executable)), sys.base_prefix]
    for target in targets:
        parts = Path(os.path.abspath(target)).parts
        for i in range(1, len(parts) + 1):
            d = os.path.join(*parts[:i])
            try:
                st = os.stat(d)
            except OSError:
                return d
            if _sandbox_uid_is_other():
                if not st.st_mode & stat.S_IXOTH:
                    return d
            elif not os.access(d, os.X_OK):
                return d
    return None


def _interpreter() -> str:
    real = os.path.realpath(sys.executable)
    return sys.executable if real == sys.executable else f"{sys.executable} (-> {real})"


def python_finding() -> Finding:
    """Run `python` the way a checker does, as the sandbox's own user, in the mode that would be used."""
    name = "python in the sandbox"
    try:
        mode = isolation.sandbox_mode()
    except SandboxUnavailable as e:
        return Finding(check=name, ok=False, found=f"no sandbox: {e}", fix=f"unset {MODE_ENV}, or {INSTALL_BWRAP}")
    try:
        with tempfile.TemporaryDirectory(prefix="casebank-preflight-") as d:
            result = isolation._run(checker_command(_PROBE), Path(d), Limits(wall_timeout_s=30), None, mode)
    except SandboxUnavailable as e:
        return Finding(check=name, ok=False, found=f"{mode} mode cannot run a command: {e}", fix=INSTALL_BWRAP)
    expected = f"casebank-preflight {sys.prefix}"
    output = result.output.strip()
    if result.exit_code == 0 and output == expected:
        return Finding(check=name, ok=True, found=f"{mode} mode runs {sys.executable} ({sys.prefix})")
    said = output.splitlines()[-1] if output else f"exit code {result.exit_code}"
    if result.exit_code == 0 and output.startswith("casebank-preflight "):
        return Finding(check=name, ok=False, found=f"the checkers' `python` is another interpreter ({output.split(' ', 1)[1]}), "
                       f"not this one ({sys.prefix})", fix="run casebank from its venv (the sandbox puts the venv's bin first on PATH)")
    where = unreachable_directory() if mode == "basic" else None
    if where is not None:
        who = "the sandbox's throw-away uid" if _sandbox_uid_is_other() else "this user"
        return Finding(
            check=name, ok=False,
            found=f"{mode} mode: checkers cannot start python ({said}): {who} cannot enter {where}, "
                  f"on the way to {_interpreter()}",
            fix=f"{INSTALL_BWRAP} (the bwrap mode binds the Python installation), or use a Python outside {where} "
                "(e.g. under /usr or /opt) for the venv",
        )
    return Finding(check=name, ok=False, found=f"{mode} mode: checkers cannot start python ({said})",
                   fix="run `casebank doctor` and read docs/sandbox.md" + ("" if mode == "bwrap" else f"; or {INSTALL_BWRAP}"))


def memory_finding() -> Finding:
    """How the total memory of one command is capped: a memory cgroup, else the rlimit product."""
    try:
        cap = isolation.memory_cap()
    except SandboxUnavailable as e:
        return Finding(check="memory cap", ok=False, blocking=False, found=str(e))
    if cap.startswith("none"):
        return Finding(check="memory cap", ok=False, blocking=False, found=cap,
                       fix="run as root (a memory cgroup, or RLIMIT_NPROC x RLIMIT_AS for the throw-away uid), or use the bwrap mode")
    return Finding(check="memory cap", ok=True, found=cap)


@functools.lru_cache(maxsize=None)
def _preflight(want: str) -> Finding:
    return python_finding()


def require_sandbox() -> Finding:
    """The preflight: raise SandboxBroken unless a checker's `python` runs in the sandbox (once per process
    and CASEBANK_SANDBOX value; a run of it costs well under a second)."""
    finding = _preflight(_want())
    if not finding.ok:
        raise SandboxBroken(finding)
    return finding


def sandbox_findings() -> list[Finding]:
    """The doctor's sandbox rows."""
    return [mode_finding(), python_finding(), memory_finding()]
