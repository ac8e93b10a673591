"""Regression tests for the sandbox gaps of issue 10 (defect 5): host files seen through planted
symlinks, AF_VSOCK inside the sandbox, and memory capped per process only.

Everything is real: links are planted by sandboxed commands, sockets are opened inside bubblewrap,
memory is allocated by real processes and measured from the host's /proc while they hold it.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from casebank.sandbox import isolation as iso
from casebank.sandbox import memcg, paths, tools
from casebank.sandbox.isolation import Limits, RunResult, mechanisms, memory_cap, run_isolated
from casebank.sandbox.tools import ToolExecutor, Workspace

pytestmark = pytest.mark.timeout(120)

MiB = 1 << 20
CHILDREN = 8
CHILD_BYTES = 160 * MiB  # 8 x 160 MiB = 1.25 GiB, over the default total of 1 GiB
# PSS also counts a share of the pages of perl and libc, which the page cache may have charged to
# another cgroup first (whoever read them first): they can push the sum a little over the cap.
SLACK = 32 * MiB


@pytest.fixture()
def ws(tmp_path: Path) -> Iterator[Workspace]:
    with Workspace.create({"notes.txt": "inside\n", "src/app.py": "x = 1\n"}, parent=tmp_path) as w:
        yield w


@pytest.fixture()
def outside(tmp_path: Path) -> Path:
    """A host directory next to the workspace, holding a secret the tools must never reach."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "secret.txt").write_text("OUTSIDE-SECRET\n")
    return d


def call(ws: Workspace, tool: str, **args: str) -> tools.ToolResult:
    return ToolExecutor(ws).call(tool, args)


def planted(ws: Workspace, command: str) -> None:
    """Links are made by a sandboxed command, as a model would make them."""
    r = call(ws, "run", command=command + " && echo planted")
    assert r.ok and r.content.endswith("planted\n"), r.content


def tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------------
# 1. host-side file tools and symlinks
# ------------------------------------------------------------------------------------------

def test_list_files_is_no_host_existence_oracle(auto: str, ws: Workspace, outside: Path) -> None:
    missing = f"/root/.casebank-missing-{uuid.uuid4().hex[:8]}"
    planted(ws, f"ln -s /root/.bashrc exists && ln -s {missing} missing && ln -s /etc etcdir && "
                f"ln -s {outside} outdir && ln -s /nonexistent-dir nodir")
    lines = call(ws, "list_files").content.splitlines()
    assert "exists -> /root/.bashrc" in lines and f"missing -> {missing}" in lines, lines
    assert "etcdir -> /etc" in lines and "nodir -> /nonexistent-dir" in lines and f"outdir -> {outside}" in lines
    assert "notes.txt" in lines and "src/app.py" in lines  # the workspace's own files as before
    assert not any("secret" in line or "passwd" in line for line in lines), lines  # no link is entered
    # listing the links themselves: refused the same way, whether the target exists or not
    answers = {name: call(ws, "list_files", path=name).content for name in ("etcdir", "nodir", "outdir")}
    assert all(a == f"error: refused path '{n}': symlink points outside the workspace" for n, a in answers.items()), answers


def test_reading_and_writing_through_planted_links_refused(mode: str, ws: Workspace, outside: Path) -> None:
    before = tree(outside)
    planted(ws, f"ln -s {outside}/secret.txt f && ln -s {outside} d && ln -s .. up && ln -s /workspace/../.. vup && "
                f"ln -s {outside}/new.txt dangling")
    attempts = [
        ("read_file", {"path": "f"}), ("read_file", {"path": "d/secret.txt"}), ("read_file", {"path": "up/outside/secret.txt"}),
        ("read_file", {"path": "vup/etc/passwd"}), ("write_file", {"path": "f", "content": "pwned"}),
        ("write_file", {"path": "d/new.txt", "content": "pwned"}), ("write_file", {"path": "dangling", "content": "pwned"}),
        ("edit_file", {"path": "f", "old": "OUTSIDE", "new": "pwned"}), ("list_files", {"path": "up"}),
    ]
    for tool, args in attempts:
        r = ToolExecutor(ws).call(tool, args)
        assert not r.ok and r.content.startswith("error: refused path"), (tool, args, r.content)
        assert "OUTSIDE-SECRET" not in r.content
    assert tree(outside) == before


def test_links_inside_the_workspace_still_work(mode: str, ws: Workspace) -> None:
    # /workspace/... is what a command sees inside bwrap; the host tools read it as the workspace
    planted(ws, "ln -s src/app.py rel && ln -s /workspace/src virt && ln -s notes.txt note-link")
    assert call(ws, "read_file", path="rel").content == "x = 1\n"
    assert call(ws, "read_file", path="virt/app.py").content == "x = 1\n"
    assert call(ws, "write_file", path="virt/new.py", content="y = 2\n").ok
    assert (ws.root / "src" / "new.py").read_text() == "y = 2\n" and (ws.root / "virt").is_symlink()
    assert call(ws, "edit_file", path="note-link", old="inside", new="edited").ok
    assert (ws.root / "notes.txt").read_text() == "edited\n" and (ws.root / "note-link").is_symlink()


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("read_file", {"path": "sub/secret.txt"}),
        ("write_file", {"path": "sub/planted.txt", "content": "pwned"}),
        ("edit_file", {"path": "sub/secret.txt", "old": "SECRET", "new": "pwned"}),
        ("list_files", {"path": "sub"}),
    ],
)
def test_parent_swapped_for_a_symlink_after_the_check_refused(
    ws: Workspace, outside: Path, monkeypatch: pytest.MonkeyPatch, tool: str, args: dict[str, str]
) -> None:
    """TOCTOU: the path is checked while `sub` is a real directory; right after the check (where a
    racing process would act) `sub` becomes a link to a host directory.  The open must not follow it."""
    (ws.root / "sub").mkdir()
    (ws.root / "sub" / "secret.txt").write_text("inside SECRET\n")
    before = tree(outside)
    real_check = paths.resolve_in_workspace

    def check_then_swap(root: Path, rel: str) -> Path:
        checked = real_check(root, rel)
        if (ws.root / "sub").is_dir() and not (ws.root / "sub").is_symlink():
            (ws.root / "sub").rename(ws.root / "sub-was")
            (ws.root / "sub").symlink_to(outside)
        return checked

    # both names: the tools check through paths.open_in_workspace (before the fix: through their own import)
    monkeypatch.setattr(paths, "resolve_in_workspace", check_then_swap)
    monkeypatch.setattr(tools, "resolve_in_workspace", check_then_swap)
    r = ToolExecutor(ws).call(tool, args)
    assert (ws.root / "sub").is_symlink()  # the swap happened
    assert not r.ok and r.content.startswith("error:"), r.content
    assert "OUTSIDE" not in r.content and "secret.txt" not in r.content.replace(args["path"], "")
    assert tree(outside) == before


def test_file_swapped_for_a_symlink_or_hard_link_after_the_check_refused(
    ws: Workspace, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_check = paths.resolve_in_workspace
    swaps = {
        "notes.txt": lambda p: (p.unlink(), p.symlink_to(outside / "secret.txt")),
        "src/app.py": lambda p: (p.unlink(), os.link(outside / "secret.txt", p)),
    }

    def check_then_swap(root: Path, rel: str) -> Path:
        checked = real_check(root, rel)
        swaps[rel](ws.root / rel)
        return checked

    monkeypatch.setattr(paths, "resolve_in_workspace", check_then_swap)
    monkeypatch.setattr(tools, "resolve_in_workspace", check_then_swap)
    for rel in swaps:
        r = call(ws, "write_file", path=rel, content="pwned")
        assert r.content.startswith("error: refused path"), r.content
    assert (outside / "secret.txt").read_text() == "OUTSIDE-SECRET\n"


# ------------------------------------------------------------------------------------------
# 2. socket families
# ------------------------------------------------------------------------------------------

SOCKETS = r"""
import errno, socket
def err(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
print("vsock", err(lambda: socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)))
print("vsockpair", err(lambda: socket.socketpair(socket.AF_VSOCK, socket.SOCK_STREAM)))
print("packet", err(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM)))
a, b = socket.socketpair(socket.AF_UNIX)
a.sendall(b"unix-pair"); print(b.recv(64).decode())
u = socket.socket(socket.AF_UNIX); u.bind("/tmp/s.sock"); u.listen(1)
c = socket.socket(socket.AF_UNIX); c.connect("/tmp/s.sock"); c.sendall(b"unix-path"); print(u.accept()[0].recv(64).decode())
s = socket.socket(socket.AF_INET); s.bind(("127.0.0.1", 0)); s.listen(1)
c = socket.create_connection(s.getsockname(), timeout=5); c.sendall(b"inet-loopback"); print(s.accept()[0].recv(64).decode())
print("inet6", err(lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM)))
print("netlink", err(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)))
"""


def test_vsock_denied_inside_the_sandbox(auto: str, tmp_path: Path) -> None:
    assert mechanisms()["seccomp"], f"bubblewrap with the seccomp filter is required here: {iso._bwrap_probe().error}"
    r = run_isolated(f"python - <<'EOF'\n{SOCKETS}\nEOF", tmp_path)
    lines = r.output.splitlines()
    assert r.exit_code == 0, r.output
    assert "vsock EAFNOSUPPORT" in lines and "vsockpair EAFNOSUPPORT" in lines and "packet EAFNOSUPPORT" in lines
    # what commands need still works as before
    assert {"unix-pair", "unix-path", "inet-loopback", "inet6 ok", "netlink ok"} <= set(lines), lines


# ------------------------------------------------------------------------------------------
# 3. total memory of a command
# ------------------------------------------------------------------------------------------

def _pss_of(tok: str) -> int:
    """Sum of the proportional set size (shared pages split, so nothing is counted twice) of the
    live processes that carry CASEBANK_TEST_TOKEN=tok, read from the host's /proc."""
    needle = f"CASEBANK_TEST_TOKEN={tok}".encode()
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{name}/smaps_rollup", encoding="ascii") as f:
                total += sum(int(line.split()[1]) for line in f if line.startswith("Pss:")) * 1024
        except (OSError, ValueError):
            continue
    return total


def run_measured(command: str, ws: Path, limits: Limits) -> tuple[RunResult, int]:
    """Run a command while a host thread samples its processes' total memory; (result, peak bytes)."""
    tok = uuid.uuid4().hex
    peak = 0
    done = threading.Event()

    def sample() -> None:
        # One scan reads the processes one after the other: while the OOM killer works, a process
        # read just before it was killed and one read just after it allocated would both count.
        # A level held over two scans in a row is real; that is what is kept.
        nonlocal peak
        last = 0
        while not done.is_set():
            now = _pss_of(tok)
            peak = max(peak, min(last, now))
            last = now
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = run_isolated(command, ws, limits, env={"CASEBANK_TEST_TOKEN": tok})
    finally:
        done.set()
        sampler.join()
    return result, peak


# perl (in /usr/bin, so reachable in basic mode too): vec() grows one string and zero-fills it, touching every page
HOLDERS = (f"for i in $(seq {CHILDREN}); do perl -e 'vec($x, {CHILD_BYTES} - 1, 8) = 1; print \"held\\n\"; sleep 1.5' & done; "
           "wait; echo finished")


def test_total_memory_of_all_processes_capped(mode: str, tmp_path: Path) -> None:
    limits = Limits(wall_timeout_s=60)
    cap = limits.total_memory_bytes
    r, peak = run_measured(HOLDERS, tmp_path, limits)
    print(f"\n[{mode}] memory cap: {memory_cap()}; {CHILDREN} x {CHILD_BYTES // MiB} MiB asked; "
          f"peak PSS of the command {peak / MiB:.0f} MiB; cgroup peak "
          f"{'-' if r.peak_memory_bytes is None else f'{r.peak_memory_bytes / MiB:.0f} MiB'}; cap {cap / MiB:.0f} MiB")
    assert r.output.rstrip().endswith("finished") and not r.timed_out, r.output
    assert peak < cap + SLACK, f"{CHILDREN} processes held {peak / MiB:.0f} MiB against a total cap of {cap / MiB:.0f} MiB"
    assert r.output.splitlines().count("held") < CHILDREN  # some were stopped: they could not all fit
    if mechanisms()["memory_cgroup"]:
        assert peak > 2 * CHILD_BYTES, peak  # several held their memory at once: the measure sees them
        assert r.peak_memory_bytes is not None and r.peak_memory_bytes <= cap
        assert "Killed" in r.output  # the cgroup's OOM killer stopped the ones over the total
    else:
        assert mechanisms()["total_memory_cap"], "no total memory cap at all here"
        assert "Out of memory" in r.output  # each process got only its share of the total


def test_without_a_cgroup_the_rlimit_product_bounds_the_total(auto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memcg, "hierarchy", lambda: None)  # as on a machine without a usable memory cgroup
    assert not mechanisms()["memory_cgroup"] and mechanisms()["total_memory_cap"]
    limits = Limits(wall_timeout_s=60)
    r = run_isolated("cat /proc/self/limits", tmp_path, limits)
    found = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(Max address space|Max processes)\s+(\d+)", r.output, re.M)}
    assert found["Max processes"] * found["Max address space"] <= limits.total_memory_bytes, found
    r, peak = run_measured(HOLDERS, tmp_path, limits)
    assert peak < limits.total_memory_bytes + SLACK and "Out of memory" in r.output and r.peak_memory_bytes is None, (peak, r.output)
    (tmp_path / "test_ok.py").write_text("def test_ok():\n    assert sum(range(10)) == 45\n")
    r = run_isolated("python -m pytest -q -p no:cacheprovider test_ok.py", tmp_path, limits)  # a normal command still works
    assert r.exit_code == 0 and "1 passed" in r.output, r.output


def test_normal_commands_work_under_the_cap(auto: str, tmp_path: Path) -> None:
    (tmp_path / "test_ok.py").write_text("def test_ok():\n    assert sorted([3, 1, 2]) == [1, 2, 3]\n")
    r = run_isolated("seq 200000 | sort -n | uniq | wc -l && python -m pytest -q -p no:cacheprovider test_ok.py", tmp_path)
    assert r.exit_code == 0 and r.output.startswith("200000\n") and "1 passed" in r.output, r.output
    if mechanisms()["memory_cgroup"]:  # with a cgroup one process may use most of the total
        r = run_isolated("python -c 'x = bytearray(600 << 20); x[::4096] = b\"\\1\" * len(x[::4096]); print(\"big ok\")'", tmp_path)
        assert r.output == "big ok\n" and r.peak_memory_bytes is not None and r.peak_memory_bytes > 600 * MiB, r
    # a run right after one that hit the cap starts clean: its group was removed, nothing lingers
    run_isolated(HOLDERS.replace("sleep 1.5", "sleep 0.2"), tmp_path, Limits(wall_timeout_s=30))
    r = run_isolated("echo fine", tmp_path)
    assert r.output == "fine\n" and (r.peak_memory_bytes is None or r.peak_memory_bytes < 64 * MiB), r


def test_memory_group_lifecycle(tmp_path: Path) -> None:
    """Where a cgroup is used: a group left by a killed caller is cleared when its name is reused,
    and a removed group leaves nothing behind.  Elsewhere: the reported cap names the fallback."""
    h = memcg.hierarchy()
    if h is None:
        assert "RLIMIT_NPROC x RLIMIT_AS" in memory_cap() or os.geteuid() != 0
        return
    name = f"casebank-sandbox-test-{uuid.uuid4().hex[:8]}"
    stale = memcg.MemoryGroup.create(h, name, 64 * MiB)
    leftover = subprocess.Popen([*stale.enter_argv(), "sleep", "300"])
    try:
        deadline = time.monotonic() + 5
        while str(leftover.pid) not in Path(stale.path, "cgroup.procs").read_text().split():
            assert time.monotonic() < deadline, "the process never entered the group"
            time.sleep(0.01)
        fresh = memcg.MemoryGroup.create(h, name, 64 * MiB)  # as after a kill -9 of the caller
        assert leftover.wait(timeout=5) == -9
        assert Path(fresh.path, "cgroup.procs").read_text().strip() == ""
    finally:
        leftover.kill()
        leftover.wait()
    fresh.remove()
    assert not os.path.exists(fresh.path)
    fresh.remove()  # idempotent: a second removal (a callback after a failed run) is harmless
