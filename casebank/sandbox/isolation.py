"""Run one untrusted shell command for the agent, isolated.  See docs/sandbox.md.

Modes (env var ``CASEBANK_SANDBOX=auto|bwrap|basic``, read on every call):

* ``bwrap``: bubblewrap with fresh pid/net/ipc/uts(/cgroup) namespaces, a read-only view of
  only /usr (+ /bin, /lib* links), a few synthetic /etc files, the Python installation and the
  project venv; tmpfs /tmp, fresh /proc and minimal /dev; the workspace bound read-write at
  ``/workspace``.  When the caller is root, bwrap runs as root without a user namespace and the
  command is started under a throw-away unprivileged uid (``setpriv``), so RLIMIT_NPROC applies
  and the command cannot touch root-owned files.  As non-root, bwrap uses a user namespace.
* ``basic``: fallback when bwrap is missing or broken: ``unshare --net`` when it works, rlimits,
  and (as root) the same throw-away uid.  Host files are then readable subject to permissions.
* ``auto`` (default): bwrap if a probe run succeeds (cached), else basic.

In every mode: wall timeout, RLIMIT_CPU/AS/FSIZE/CORE (+NPROC where it means something), a
scrubbed environment, output capped while it is read, and every process of the command
(background jobs and setsid/double-fork escapes included) killed before returning.  The memory of
all the command's processes together is capped by a memory cgroup where the machine allows one
(memcg.py), else by a process count and per-process address space whose product is the cap.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import logging
import os
import selectors
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from casebank import envs
from casebank.errors import SandboxError
from casebank.sandbox import memcg

__all__ = [
    "Limits",
    "RunResult",
    "SandboxUnavailable",
    "mechanisms",
    "memory_cap",
    "prepare_workspace",
    "run_isolated",
    "sandbox_mode",
    "VIRTUAL_WORKSPACE",
]

VIRTUAL_WORKSPACE = "/workspace"
MODE_ENV = "CASEBANK_SANDBOX"  # casebank.envs.VARIABLES
# Throw-away uids for commands when we are root.  Far above normal, systemd-dynamic and the
# usual /etc/subuid ranges.  A lease (flock) makes each uid exclusive to one running command.
UID_BASE = 1_979_000_000
UID_POOL = 4096
SANDBOX_USER = "agent"
INNER_UID = 1000  # uid shown inside the user namespace (non-root bwrap)
TMPFS_BYTES = 256 << 20
_READ_CHUNK = 65536
_DRAIN_AFTER_EXIT_S = 2.0
_KILL_ROUNDS = 50
_TRUNC_MARKER = "\n[... output truncated: {n} bytes omitted ...]\n"
_SYS_PATHS = ("/usr/bin", "/bin")
# Without a memory cgroup, the total is bounded by RLIMIT_NPROC x RLIMIT_AS: at most this many
# processes (threads count too), each with total_memory_bytes / that much address space.
FALLBACK_MAX_PROCESSES = 16
_log = logging.getLogger(__name__)


class SandboxUnavailable(SandboxError, RuntimeError):
    """The requested sandbox mode cannot run on this machine."""


@dataclass(frozen=True)
class Limits:
    wall_timeout_s: float = 30.0
    cpu_time_s: int = 30
    memory_bytes: int = 1 << 30  # RLIMIT_AS, per process
    total_memory_bytes: int = 1 << 30  # all processes of the command together (cgroup, or NPROC x AS)
    max_output_bytes: int = 16_000  # combined stdout+stderr kept; the rest is cut with a marker
    max_file_bytes: int = 8 << 20  # RLIMIT_FSIZE
    max_processes: int = 64  # RLIMIT_NPROC, where enforceable


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None  # None when killed by the wall timeout
    output: str  # stdout+stderr interleaved, utf-8 (errors replaced), truncated with a marker
    timed_out: bool
    truncated: bool
    peak_memory_bytes: int | None = None  # the command's memory cgroup peak, where one was used


# --------------------------------------------------------------------------------------------
# helpers: tools, environment
# --------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _tool(name: str) -> str | None:
    return shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin:/usr/local/bin")


def _is_root() -> bool:
    return os.geteuid() == 0


def _python_bin_dir() -> str:
    return os.path.dirname(os.path.abspath(sys.executable))


def _base_env(home: str, extra: dict[str, str] | None) -> dict[str, str]:
    env = {
        "PATH": ":".join((_python_bin_dir(), *_SYS_PATHS)),
        "HOME": home,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        # Plugins of the host venv (hypothesis, langsmith, ...) add ~20 s to every pytest start on 2 cores.
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "USER": SANDBOX_USER,
        "LOGNAME": SANDBOX_USER,
    }
    if extra:
        for key, value in extra.items():
            if "\x00" in key or "\x00" in str(value) or "=" in key or not key:
                raise ValueError(f"bad environment variable {key!r}")
            env[key] = str(value)
    return env


def _python_dirs() -> list[str]:
    """Directories that must be visible (read-only) for the project's python to run."""
    dirs: list[str] = []
    cands = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))]
    for d in cands:
        d = os.path.abspath(d)
        if not os.path.isdir(d) or d in ("/", "/usr") or d.startswith("/usr/"):
            continue
        real = os.path.realpath(d)
        for p in (d, real):
            if p not in dirs:
                dirs.append(p)
    # drop entries nested inside another entry
    dirs.sort(key=len)
    out: list[str] = []
    for d in dirs:
        if not any(d == o or d.startswith(o + "/") for o in out):
            out.append(d)
    return out


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC)  # inherited only through pass_fds
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


# --------------------------------------------------------------------------------------------
# throw-away uid leases and process cleanup
# --------------------------------------------------------------------------------------------

_lease_lock = threading.Lock()
_lease_held: set[int] = set()


def _lease_dir() -> str:
    # /run when root: sandboxed commands can write /tmp in basic mode and could squat the name
    base = "/run" if _is_root() and os.access("/run", os.W_OK) else tempfile.gettempdir()
    d = os.path.join(base, f"casebank-sandbox-uids-{os.geteuid()}")
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(d)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise SandboxUnavailable(f"unsafe uid lease directory {d}")
    return d


@contextlib.contextmanager
def _uid_lease() -> Iterator[int]:
    """An unprivileged uid no other running command uses (lowest free: deterministic when serial)."""
    d = _lease_dir()
    for i in range(UID_POOL):
        uid = UID_BASE + i
        with _lease_lock:
            if uid in _lease_held:
                continue
            fd = os.open(os.path.join(d, str(uid)), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            _kill_uid(uid)  # leftovers of a crashed earlier holder
            if _pids_of_uid(uid, zombies=True):
                # unreaped zombies (pid 1 not reaping) would count against RLIMIT_NPROC: skip
                os.close(fd)
                continue
            _lease_held.add(uid)
        try:
            yield uid
        finally:
            with _lease_lock:
                _lease_held.discard(uid)
            os.close(fd)
        return
    raise SandboxUnavailable("no free sandbox uid")


def _pids_of_uid(uid: int, zombies: bool = False) -> list[int]:
    pids = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return pids
    for name in names:
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid != uid:
                continue
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if zombies or state not in (b"Z", b"X"):
            pids.append(int(name))
    return pids


def _kill_uid(uid: int) -> None:
    """SIGKILL every process running as `uid` (kill(-1) issued *as* that uid)."""
    setpriv = _tool("setpriv")
    for _ in range(_KILL_ROUNDS):
        if not _pids_of_uid(uid):
            return
        if setpriv:
            subprocess.run(
                [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--",
                 "/bin/bash", "-c", "kill -KILL -1"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env={"PATH": "/usr/bin:/bin"}, close_fds=True, check=False, timeout=10,
            )
        else:  # pragma: no cover - setpriv is in util-linux, always present where we drop uids
            for pid in _pids_of_uid(uid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        time.sleep(0.002)


# --------------------------------------------------------------------------------------------
# workspace ownership (root only): the command's uid must be able to write the workspace
# --------------------------------------------------------------------------------------------

def _chown_tree(root: str, uid: int, gid: int) -> None:
    """lchown everything under root to uid:gid.  Never follows symlinks; skips regular files
    with several hard links (could alias a file outside); strips setuid/setgid bits.  Only
    called while no sandboxed process is alive, so nothing can race it."""
    stack = [root]
    first = True
    while stack:
        d = stack.pop()
        try:
            if first:
                st = os.lstat(d)
                if st.st_uid != uid or st.st_gid != gid:
                    os.chown(d, uid, gid, follow_symlinks=False)
                first = False
            with os.scandir(d) as it:
                entries = list(it)
        except OSError:
            continue
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
                mode = st.st_mode
                if stat.S_ISDIR(mode):
                    stack.append(e.path)
                elif stat.S_ISREG(mode) and st.st_nlink > 1:
                    continue
                if st.st_uid != uid or st.st_gid != gid:
                    os.chown(e.path, uid, gid, follow_symlinks=False)
                if stat.S_ISREG(mode) and mode & (stat.S_ISUID | stat.S_ISGID):
                    os.chmod(e.path, stat.S_IMODE(mode) & ~(stat.S_ISUID | stat.S_ISGID))
            except OSError:
                continue


def prepare_workspace(root: Path) -> None:
    """Make a workspace usable by the sandbox.  Ownership is handled per command by
    run_isolated, so this only checks that the workspace is a real directory."""
    st = os.lstat(root)
    if not stat.S_ISDIR(st.st_mode):
        raise ValueError(f"workspace {root} is not a directory")


# --------------------------------------------------------------------------------------------
# seccomp (bwrap mode): deny namespace creation, mounts, keyrings, bpf, perf, userfaultfd, io_uring,
# and every socket family but unix, inet, inet6 and netlink
# --------------------------------------------------------------------------------------------

_SECCOMP_ARCH = {
    # machine: (AUDIT_ARCH, clone, clone3, (socket, socketpair), {name: nr} denied with EPERM)
    "x86_64": (0xC000003E, 56, 435, (41, 53), {
        "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
        "chroot": 161, "keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321,
        "perf_event_open": 298, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430,
        "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442}),
    "aarch64": (0xC00000B7, 220, 435, (198, 199), {
        "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41,
        "chroot": 51, "keyctl": 219, "add_key": 217, "request_key": 218, "bpf": 280,
        "perf_event_open": 241, "userfaultfd": 282, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430,
        "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442}),
}
_CLONE_NS_FLAGS = 0x7E020000  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
# The socket families a command may open.  The network namespace leaves only loopback for inet;
# others do not go through it: AF_VSOCK reaches the hypervisor's host from inside a VM.  glibc needs
# netlink (route) for getaddrinfo.  The rest fail with EAFNOSUPPORT, as if not compiled in.
_SOCKET_FAMILIES = (1, 2, 10, 16)  # AF_UNIX, AF_INET, AF_INET6, AF_NETLINK


def _assemble(prog: list[str | tuple[int, str | int, str | int, int]]) -> bytes:
    """Classic BPF from (code, jt, jf, k) instructions whose jump targets may be label names; a str
    item defines a label at the next instruction."""
    import struct

    labels: dict[str, int] = {}
    code_only = []
    for item in prog:
        if isinstance(item, str):
            labels[item] = len(code_only)
        else:
            code_only.append(item)
    out = bytearray()
    for i, (code, jt, jf, k) in enumerate(code_only):
        jt_n = labels[jt] - i - 1 if isinstance(jt, str) else jt
        jf_n = labels[jf] - i - 1 if isinstance(jf, str) else jf
        out += struct.pack("=HBBI", code, jt_n, jf_n, k)  # struct.error if a jump is out of reach
    return bytes(out)


@functools.lru_cache(maxsize=None)
def _seccomp_program() -> bytes | None:
    """A classic-BPF seccomp filter for bwrap --seccomp, or None on unknown architectures."""
    import platform

    spec = _SECCOMP_ARCH.get(platform.machine())
    if spec is None:
        return None
    audit_arch, clone_nr, clone3_nr, socket_nrs, denied = spec
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, kill = 0x7FFF0000, 0x80000000
    errno_ret = 0x00050000
    prog: list[str | tuple[int, str | int, str | int, int]] = [
        (ld, 0, 0, 4), (jeq, 0, "kill", audit_arch),  # arch check
        (ld, 0, 0, 0),  # syscall nr
    ]
    if platform.machine() == "x86_64":
        prog.append((jge, "eperm", 0, 0x40000000))  # x32 ABI
    for nr in sorted(denied.values()):
        prog.append((jeq, "eperm", 0, nr))
    prog += [(jeq, "socket", 0, nr) for nr in socket_nrs]
    prog += [
        (jeq, "enosys", 0, clone3_nr),  # flags are in memory: make libc fall back to clone()
        (jeq, 0, "allow", clone_nr),
        (ld, 0, 0, 16),  # clone flags (low 32 bits of args[0])
        (jset, "eperm", "allow", _CLONE_NS_FLAGS),
        "socket",
        (ld, 0, 0, 16),  # the address family (args[0], an int)
        *[(jeq, "allow", 0, family) for family in _SOCKET_FAMILIES],
        (ret, 0, 0, errno_ret | errno.EAFNOSUPPORT),
        "allow", (ret, 0, 0, allow),
        "eperm", (ret, 0, 0, errno_ret | errno.EPERM),
        "enosys", (ret, 0, 0, errno_ret | errno.ENOSYS),
        "kill", (ret, 0, 0, kill),
    ]
    return _assemble(prog)


# --------------------------------------------------------------------------------------------
# command lines
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _MemoryPlan:
    """The rlimits that carry the memory caps of one run."""

    as_bytes: int  # RLIMIT_AS, per process
    nproc: int | None  # RLIMIT_NPROC; None where it would count processes outside the command


def _memory_plan(limits: Limits, cgroup: bool, nproc_enforced: bool) -> _MemoryPlan:
    """With a memory cgroup the total is the kernel's job and the limits apply as configured.
    Without one, the total is bounded by a product: at most FALLBACK_MAX_PROCESSES processes, each
    with a share of total_memory_bytes as its address space (resident memory never exceeds it)."""
    if not nproc_enforced:  # basic mode as a normal user: no count, so no bound on the total
        return _MemoryPlan(int(limits.memory_bytes), None)
    if cgroup:
        return _MemoryPlan(int(limits.memory_bytes), int(limits.max_processes))
    nproc = max(1, min(int(limits.max_processes), FALLBACK_MAX_PROCESSES))
    return _MemoryPlan(min(int(limits.memory_bytes), int(limits.total_memory_bytes) // nproc), nproc)


def _prlimit_args(limits: Limits, plan: _MemoryPlan) -> list[str]:
    prlimit = _tool("prlimit")
    if prlimit is None:
        raise SandboxUnavailable("prlimit (util-linux) not found")
    cpu = max(1, int(limits.cpu_time_s))
    args = [
        prlimit,
        f"--cpu={cpu}:{cpu + 1}",
        f"--as={plan.as_bytes}",
        f"--fsize={int(limits.max_file_bytes)}",
        "--core=0",
    ]
    if plan.nproc is not None:
        args.append(f"--nproc={plan.nproc}")
    return [*args, "--"]


def _setpriv_args(uid: int) -> list[str]:
    setpriv = _tool("setpriv")
    if setpriv is None:
        raise SandboxUnavailable("setpriv (util-linux) not found")
    return [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs", "--"]


def _etc_files(uid: int) -> dict[str, bytes]:
    passwd = (
        "root:x:0:0:root:/root:/usr/sbin/nologin\n"
        f"{SANDBOX_USER}:x:{uid}:{uid}:{SANDBOX_USER}:{VIRTUAL_WORKSPACE}:/bin/bash\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    group = f"root:x:0:\n{SANDBOX_USER}:x:{uid}:\nnogroup:x:65534:\n"
    hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    return {
        "/etc/passwd": passwd.encode(),
        "/etc/group": group.encode(),
        "/etc/hosts": hosts.encode(),
        "/etc/hostname": b"casebank\n",
        "/etc/nsswitch.conf": b"passwd: files\ngroup: files\nhosts: files\n",
    }


_ETC_RO = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
           "/etc/localtime", "/etc/mime.types", "/etc/protocols", "/etc/services")


def _bwrap_argv(ws_fd: int, limits: Limits, uid: int | None, fds: list[int], seccomp: bool,
                plan: _MemoryPlan | None = None) -> list[str]:
    """uid: throw-away uid when we are root (bwrap runs as root, setpriv drops), else None.
    plan: the memory rlimits (default: no cgroup)."""
    bwrap = _tool("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bwrap not found")
    a = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
         "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "casebank"]
    if seccomp:
        prog = _seccomp_program()
        if prog is not None:
            fd = _memfd("seccomp", prog)
            fds.append(fd)
            a += ["--seccomp", str(fd)]
    if uid is None:
        a += ["--unshare-user", "--uid", str(INNER_UID), "--gid", str(INNER_UID)]
    else:
        a += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    a += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            a += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            a += ["--ro-bind", top, top]
    for path, data in _etc_files(uid if uid is not None else INNER_UID).items():
        fd = _memfd(os.path.basename(path), data)
        fds.append(fd)
        a += ["--perms", "0444", "--ro-bind-data", str(fd), path]
    for path in _ETC_RO:
        a += ["--ro-bind-try", path, path]
    # The fresh /proc, /dev and tmpfs mounts come before the python binds: a project checked out
    # under /tmp (CI clones often are) keeps its venv visible instead of hidden under the new /tmp.
    a += ["--proc", "/proc", "--dev", "/dev",
          "--size", str(TMPFS_BYTES), "--perms", "1777", "--tmpfs", "/tmp",
          "--size", str(TMPFS_BYTES), "--perms", "1777", "--tmpfs", "/dev/shm"]
    made: set[str] = {"/tmp", "/dev", "/proc"}
    for d in _python_dirs():
        anc = os.path.dirname(d)
        chain = []
        while anc not in ("/", "") and anc not in made:
            chain.append(anc)
            anc = os.path.dirname(anc)
        for p in reversed(chain):  # bwrap would create them 0700 (unreadable for the command)
            a += ["--perms", "0755", "--dir", p]
            made.add(p)
        a += ["--ro-bind", d, d]
    a += ["--bind-fd", str(ws_fd), VIRTUAL_WORKSPACE, "--remount-ro", "/", "--"]
    if uid is not None:
        a += _setpriv_args(uid)
    a += _prlimit_args(limits, plan or _memory_plan(limits, cgroup=False, nproc_enforced=True))
    # chdir only after the uid drop: bwrap itself keeps no CAP_DAC_* and the workspace may be 0700
    a += [_tool("env") or "/usr/bin/env", f"--chdir={VIRTUAL_WORKSPACE}"]
    return a


@functools.lru_cache(maxsize=None)
def _unshare_net_prefix() -> tuple[str, ...] | None:
    """`unshare --net` (root) or `unshare --user --net` (unprivileged), if it works here."""
    unshare = _tool("unshare")
    if unshare is None:
        return None
    cands = [[unshare, "--net", "--"]] if _is_root() else []
    cands.append([unshare, "--user", "--net", "--"])
    for c in cands:
        try:
            r = subprocess.run([*c, "/bin/true"], stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=10, env={"PATH": "/usr/bin:/bin"})
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            return tuple(c)
    return None


def _basic_argv(limits: Limits, uid: int | None, plan: _MemoryPlan) -> list[str]:
    """As root, RLIMIT_NPROC is only meaningful for the throw-away uid; as a normal user it would
    count every process the user owns, so the plan leaves it out."""
    a = list(_unshare_net_prefix() or ())
    a += _prlimit_args(limits, plan)
    if uid is not None:
        a += _setpriv_args(uid)
    return a


# --------------------------------------------------------------------------------------------
# mode selection
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _BwrapProbe:
    works: bool
    seccomp: bool
    error: str = ""


_PROBE_CMD = (f"echo ok > probe.txt && cat {VIRTUAL_WORKSPACE}/probe.txt && "
              f"{shlex.quote(sys.executable)} -c 'print(7*6)'")


@functools.lru_cache(maxsize=None)
def _bwrap_probe() -> _BwrapProbe:
    """Run one real command under bwrap (with seccomp, then without); cached per process."""
    if _tool("bwrap") is None:
        return _BwrapProbe(False, False, "bwrap not installed")
    if _tool("prlimit") is None or (_is_root() and _tool("setpriv") is None):
        return _BwrapProbe(False, False, "prlimit/setpriv (util-linux) missing")
    error = ""
    for seccomp in ((True, False) if _seccomp_program() is not None else (False,)):
        try:
            with tempfile.TemporaryDirectory(prefix="casebank-probe-") as d:
                r = _run(_PROBE_CMD, Path(d), Limits(wall_timeout_s=30), None, "bwrap", seccomp)
            if r.exit_code == 0 and r.output == "ok\n42\n":
                return _BwrapProbe(True, seccomp)
            error = r.output.strip()[-500:] or f"exit code {r.exit_code}"
        except Exception as exc:  # noqa: BLE001 - any failure means "not usable"
            error = repr(exc)
    _log.warning("casebank sandbox: bubblewrap unusable here, using the basic fallback (%s)", error)
    return _BwrapProbe(False, False, error)


def _bwrap_works() -> bool:
    return _bwrap_probe().works


def sandbox_mode() -> str:
    """The mode a call would use now: 'bwrap' or 'basic' (raises if 'bwrap' is forced but broken)."""
    want = envs.get(MODE_ENV).strip().lower() or "auto"
    if want == "basic":
        return "basic"
    if want == "bwrap":
        if not _bwrap_works():
            raise SandboxUnavailable(f"{MODE_ENV}=bwrap but bubblewrap does not work here: "
                                     f"{_bwrap_probe().error}")
        return "bwrap"
    if want != "auto":
        raise SandboxUnavailable(f"{MODE_ENV} must be auto, bwrap or basic, not {want!r}")
    return "bwrap" if _bwrap_works() else "basic"


def mechanisms() -> dict[str, bool]:
    """Which isolation mechanisms the current mode uses on this machine."""
    mode = sandbox_mode()
    bw = mode == "bwrap"
    root = _is_root()
    net = bw or _unshare_net_prefix() is not None
    return {
        "bwrap": bw,
        "mount_ns": bw,                 # read-only minimal filesystem view
        "pidns": bw,
        "netns": net,
        "ipcns": bw,
        "rlimits": True,                # cpu, address space, file size, core
        "nproc_limit": bw or root,
        "drop_privileges": root or bw,  # throw-away uid (root) / user namespace (non-root bwrap)
        "kill_all_descendants": bw or root,  # pid namespace / kill(-1) as the throw-away uid
        "env_scrub": True,
        "output_cap": True,
        "fixed_workspace_path": bw,
        "seccomp": bw and _bwrap_probe().seccomp,
        "memory_cgroup": root and memcg.hierarchy() is not None,  # the total, by the kernel
        "total_memory_cap": root or bw,  # by the cgroup, else by RLIMIT_NPROC x RLIMIT_AS
    }


def memory_cap() -> str:
    """How the total memory of a command is capped here, in words (for docs, logs and reports)."""
    h = memcg.hierarchy() if _is_root() else None
    if h is not None:
        return f"{h.label} memory group ({h.parent})"
    if mechanisms()["total_memory_cap"]:
        return f"RLIMIT_NPROC x RLIMIT_AS (at most {FALLBACK_MAX_PROCESSES} processes)"
    return "none (per-process RLIMIT_AS only)"


# --------------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------------

class _Capture:
    """Keeps the first and last half of the allowed output; counts what is dropped."""

    def __init__(self, cap: int) -> None:
        self.head_cap = max(0, cap - cap // 2)
        self.tail_cap = max(0, cap // 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data and self.tail_cap:
            self.tail += data[-self.tail_cap:]
            if len(self.tail) > 2 * self.tail_cap:
                del self.tail[: len(self.tail) - self.tail_cap]

    def result(self) -> tuple[bytes, int, bytes]:
        tail = bytes(self.tail[-self.tail_cap:]) if self.tail_cap else b""
        omitted = self.total - len(self.head) - len(tail)
        return bytes(self.head), omitted, tail


def _kill_group(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)


def _run(command: str, workspace: Path, limits: Limits, env: dict[str, str] | None, mode: str,
         seccomp: bool | None = None) -> RunResult:
    if "\x00" in command:
        raise ValueError("command contains a NUL byte")
    ws = os.path.realpath(os.fspath(workspace))
    if not os.path.isdir(ws):
        raise FileNotFoundError(f"workspace {workspace} is not a directory")
    root = _is_root()
    with contextlib.ExitStack() as stack:
        uid = stack.enter_context(_uid_lease()) if root else None
        if uid is not None:
            _chown_tree(ws, uid, uid)
            stack.callback(_chown_tree, ws, os.geteuid(), os.getegid())
        fds: list[int] = []
        stack.callback(lambda: [os.close(fd) for fd in fds])
        group = _memory_group(limits, uid, stack)
        plan = _memory_plan(limits, cgroup=group is not None, nproc_enforced=mode == "bwrap" or uid is not None)
        if mode == "bwrap":
            ws_fd = os.open(ws, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            fds.append(ws_fd)
            if seccomp is None:
                seccomp = _bwrap_probe().seccomp
            argv = _bwrap_argv(ws_fd, limits, uid, fds, seccomp, plan)
            home = VIRTUAL_WORKSPACE
        else:
            argv = _basic_argv(limits, uid, plan)
            home = ws
        if group is not None:  # enter the group first: bwrap's cgroup namespace is then rooted there
            argv = group.enter_argv() + argv
        argv += ["/bin/bash", "-c", command]
        full_env = _base_env(home, env)
        if mode == "basic":
            full_env["PWD"] = ws
        result = _execute(argv, ws, full_env, fds, limits, uid)
        peak = group.peak_bytes() if group is not None else None
    # host path of the workspace never shown to the model
    replacements = {ws, os.path.abspath(os.fspath(workspace))}
    head, omitted, tail = result["head"], result["omitted"], result["tail"]
    data = head + (_TRUNC_MARKER.format(n=omitted).encode() if omitted > 0 else b"") + tail
    for r in sorted(replacements, key=len, reverse=True):
        if r and r != "/":
            data = data.replace(r.encode(), VIRTUAL_WORKSPACE.encode())
    return RunResult(
        exit_code=result["exit_code"],
        output=data.decode("utf-8", errors="replace"),
        timed_out=result["timed_out"],
        truncated=omitted > 0,
        peak_memory_bytes=peak,
    )


def _memory_group(limits: Limits, uid: int | None, stack: contextlib.ExitStack) -> memcg.MemoryGroup | None:
    """A memory cgroup capped at total_memory_bytes for this run, removed when the run ends; None
    where there is none (not root, no usable hierarchy, or creating it failed: the rlimit product
    then bounds the total)."""
    h = memcg.hierarchy() if uid is not None else None
    if h is None or uid is None:
        return None
    try:
        group = memcg.MemoryGroup.create(h, memcg.group_name(uid), limits.total_memory_bytes)
    except OSError as exc:
        _log.warning("casebank sandbox: no memory cgroup for this run (%s); using the rlimit product", exc)
        return None
    stack.callback(group.remove)
    return group


def _execute(argv: list[str], cwd: str, env: dict[str, str], fds: list[int], limits: Limits,
             uid: int | None) -> dict:
    cap = _Capture(max(0, int(limits.max_output_bytes)))
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        cwd=cwd, env=env, start_new_session=True, close_fds=True, pass_fds=tuple(fds),
    )
    deadline = time.monotonic() + max(0.0, float(limits.wall_timeout_s))
    timed_out = False
    assert proc.stdout is not None
    out_fd = proc.stdout.fileno()
    os.set_blocking(out_fd, False)
    sel = selectors.DefaultSelector()
    sel.register(out_fd, selectors.EVENT_READ)
    eof = False
    try:
        # phase 1: until the command exits (or the deadline)
        while True:
            if _exited(proc.pid):  # not reaped yet: its pid (= pgid) cannot be reused under us
                break
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            if eof:
                time.sleep(min(0.01, left))
                continue
            for _ in sel.select(timeout=min(0.05, left)):
                eof = _read_some(out_fd, cap)
        # kill everything that is left: process group, then (root) every process of the uid
        _kill_group(proc.pid)
        if uid is not None:
            _kill_uid(uid)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()
        # phase 2: drain what is still buffered in the pipe
        drain_deadline = time.monotonic() + _DRAIN_AFTER_EXIT_S
        while not eof and time.monotonic() < drain_deadline:
            if sel.select(timeout=0.05):
                eof = _read_some(out_fd, cap)
    finally:
        sel.close()
        proc.stdout.close()
        if proc.poll() is None:  # pragma: no cover - exceptional paths
            _kill_group(proc.pid)
            proc.kill()
            proc.wait()
    head, omitted, tail = cap.result()
    code = proc.returncode
    if code is not None and code < 0:
        code = 128 - code
    return {"head": head, "omitted": omitted, "tail": tail,
            "exit_code": None if timed_out else code, "timed_out": timed_out}


def _exited(pid: int) -> bool:
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _read_some(fd: int, cap: _Capture) -> bool:
    """Read what is available; True on EOF."""
    for _ in range(64):
        try:
            data = os.read(fd, _READ_CHUNK)
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno == errno.EINTR:
                continue
            return True
        if not data:
            return True
        cap.add(data)
    return False


def run_isolated(command: str, workspace: Path, limits: Limits = Limits(),
                 env: dict[str, str] | None = None) -> RunResult:
    """Run ``bash -c command`` with cwd = the workspace (seen as /workspace under bwrap).

    Never raises for anything the command does; raises ValueError/FileNotFoundError for bad
    arguments and SandboxUnavailable when a forced mode cannot run here."""
    return _run(command, Path(workspace), limits, env, sandbox_mode())
