"""One memory cgroup per sandboxed command, so that all its processes together stay under one cap.

RLIMIT_AS bounds each process on its own: eight processes under a 1 GiB limit held 6.3 GiB.  A memory
cgroup bounds their sum (tmpfs pages they write included); the kernel's OOM killer acts inside the
group only.  See docs/sandbox.md for where this applies and what replaces it elsewhere.

Groups are created under the caller's own memory cgroup, never beside it, so every limit the caller is
already under still applies to the command.  That needs root and a hierarchy that allows it:

* cgroup v2: our cgroup must have (or be able to enable) the memory controller for its children, which
  the kernel allows only for the root cgroup or a cgroup holding no processes, and we are in ours.  So
  in practice: a machine where everything runs in the root cgroup (a small VM without systemd); not
  inside a systemd service or a container.
* cgroup v1 (hybrid layouts): the memory hierarchy has no such rule; any writable cgroup will do.

Each group is named after the throw-away uid the command runs as; the uid's lease (isolation.py) makes
the name exclusive, and a group left behind by a killed caller is removed when its uid is leased again.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
import signal
import time
from dataclasses import dataclass

__all__ = ["MemoryGroup", "Hierarchy", "hierarchy", "group_name"]

_PREFIX = "casebank-sandbox-"
_REMOVE_TRIES = 200  # x 5 ms: the killed processes leave the group within a few ms
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hierarchy:
    """Where per-command groups go: the directory of our own memory cgroup, and its cgroup version."""

    version: int  # 1 or 2
    parent: str

    @property
    def label(self) -> str:
        return f"cgroup v{self.version}"


def group_name(uid: int) -> str:
    return f"{_PREFIX}{uid}"


def _read(path: str) -> str:
    with open(path, encoding="ascii") as f:
        return f.read().strip()


def _write(path: str, value: str) -> None:
    with open(path, "w", encoding="ascii") as f:
        f.write(value)


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(fstype, mount root, mount point, super options) of every cgroup mount we can see."""
    out = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for line in lines:
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        out.append((tail[0], fields[3], fields[4], set(tail[2].split(","))))
    return out


def _own_cgroups() -> dict[str, str]:
    """Our cgroup path per hierarchy: '' for the v2 hierarchy, the controller list for v1 ones."""
    out = {}
    try:
        with open("/proc/self/cgroup", encoding="utf-8", errors="replace") as f:
            for line in f.read().splitlines():
                parts = line.split(":", 2)
                if len(parts) == 3:
                    out[parts[1]] = parts[2]
    except OSError:
        pass
    return out


def _join(mount_root: str, mount_point: str, path: str) -> str | None:
    """The directory of cgroup `path` under a mount of the hierarchy's `mount_root`."""
    if mount_root != "/":
        if path != mount_root and not path.startswith(mount_root.rstrip("/") + "/"):
            return None  # our cgroup is not inside what this mount shows
        path = path[len(mount_root):]
    d = os.path.join(mount_point, path.lstrip("/"))
    return d if os.path.isdir(d) else None


def _v2(mounts: list, own: dict[str, str]) -> Hierarchy | None:
    path = own.get("")
    for fstype, root, point, _ in mounts:
        if fstype != "cgroup2" or path is None:
            continue
        d = _join(root, point, path)
        if d is None:
            continue
        try:
            if "memory" not in _read(os.path.join(d, "cgroup.controllers")).split():
                continue
            if "memory" not in _read(os.path.join(d, "cgroup.subtree_control")).split():
                # refused (EBUSY) unless d is the root cgroup or holds no process
                _write(os.path.join(d, "cgroup.subtree_control"), "+memory")
        except OSError:
            continue
        return Hierarchy(2, d)
    return None


def _v1(mounts: list, own: dict[str, str]) -> Hierarchy | None:
    path = next((p for ctl, p in own.items() if "memory" in ctl.split(",")), None)
    for fstype, root, point, options in mounts:
        if fstype != "cgroup" or "memory" not in options or path is None:
            continue
        d = _join(root, point, path)
        if d is not None and os.access(d, os.W_OK):
            return Hierarchy(1, d)
    return None


def _usable(h: Hierarchy) -> bool:
    """Create, limit and remove one group: mounts can be read-only or writes refused (containers)."""
    probe = os.path.join(h.parent, f"{_PREFIX}probe-{os.getpid()}")
    try:
        os.mkdir(probe)
    except FileExistsError:
        pass
    except OSError:
        return False
    try:
        _write(os.path.join(probe, "memory.max" if h.version == 2 else "memory.limit_in_bytes"), str(64 << 20))
        return True
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(probe)


@functools.lru_cache(maxsize=None)
def hierarchy() -> Hierarchy | None:
    """The memory cgroup hierarchy per-command groups can go into here, or None (probed once)."""
    if os.geteuid() != 0:  # a delegated subtree would be writable by the command itself
        return None
    mounts, own = _mounts(), _own_cgroups()
    for found in (_v2(mounts, own), _v1(mounts, own)):
        if found is not None and _usable(found):
            return found
    return None


class MemoryGroup:
    """A memory cgroup for one command: processes enter it through `enter_argv`, before they run."""

    def __init__(self, h: Hierarchy, path: str):
        self.hierarchy = h
        self.path = path

    @classmethod
    def create(cls, h: Hierarchy, name: str, limit_bytes: int) -> MemoryGroup:
        """A fresh group with the cap set; a leftover of the same name (its uid's last holder died) goes first."""
        group = cls(h, os.path.join(h.parent, name))
        if os.path.isdir(group.path):
            group.remove()
        os.mkdir(group.path, 0o755)
        try:
            group._limit(int(limit_bytes))
        except OSError:
            group.remove()
            raise
        return group

    def _limit(self, limit: int) -> None:
        # the swap files exist only with swap accounting (and cgroupfs refuses to create a file: EACCES)
        if self.hierarchy.version == 2:
            _write(self._file("memory.max"), str(limit))
            if os.path.exists(self._file("memory.swap.max")):
                _write(self._file("memory.swap.max"), "0")
        else:
            _write(self._file("memory.limit_in_bytes"), str(limit))
            if os.path.exists(self._file("memory.memsw.limit_in_bytes")):  # RAM + swap: swap adds nothing
                _write(self._file("memory.memsw.limit_in_bytes"), str(limit))

    def _file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def enter_argv(self) -> list[str]:
        """A prefix that moves the process into the group, then execs the rest of the argv: everything
        the command starts is in the group from its first instruction (a move after Popen would race
        with its first fork)."""
        script = ('{ echo $$ > "$0"; } 2>/dev/null || '
                  '{ echo "casebank sandbox: cannot enter the memory cgroup" >&2; exit 125; }; exec "$@"')
        return ["/bin/sh", "-c", script, self._file("cgroup.procs")]

    def peak_bytes(self) -> int | None:
        """The group's highest memory use (page cache and tmpfs included), where the kernel reports it."""
        name = "memory.peak" if self.hierarchy.version == 2 else "memory.max_usage_in_bytes"
        try:
            return int(_read(self._file(name)))
        except (OSError, ValueError):
            return None

    def _pids(self) -> list[int]:
        try:
            return [int(p) for p in _read(self._file("cgroup.procs")).split()]
        except (OSError, ValueError):
            return []

    def _kill_all(self) -> None:
        if os.path.exists(self._file("cgroup.kill")):  # v2, Linux 5.14+
            with contextlib.suppress(OSError):
                _write(self._file("cgroup.kill"), "1")
        for pid in self._pids():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def remove(self) -> None:
        """Kill what is still inside, then remove the group (retrying while killed processes exit)."""
        for attempt in range(_REMOVE_TRIES):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    break
            if attempt % 20 == 0:
                self._kill_all()
            time.sleep(0.005)
        _log.warning("casebank sandbox: could not remove memory cgroup %s; retried when its uid is reused", self.path)
