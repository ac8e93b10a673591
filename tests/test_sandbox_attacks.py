"""Attacks on the sandbox (casebank.sandbox.isolation / paths).  Every test asserts containment.

Default (auto) mode is exercised everywhere; key attacks are parametrized over the ``basic``
fallback as well.  Destructive probes only run when the bwrap read-only view is verified first.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from casebank.sandbox import isolation as iso
from casebank.sandbox.isolation import Limits, RunResult, mechanisms, run_isolated
from casebank.sandbox.paths import PathEscapeError, resolve_in_workspace

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
IS_ROOT = os.geteuid() == 0


@pytest.fixture()
def bwrap_only(auto: str) -> None:
    if not mechanisms()["bwrap"]:
        pytest.skip("bubblewrap not usable on this machine")


@pytest.fixture()
def ws(tmp_path: Path) -> Path:
    w = tmp_path / "ws"
    w.mkdir()
    (w / "hello.txt").write_text("hello\n")
    return w


def run(cmd: str, ws: Path, env: dict[str, str] | None = None, **limits: object) -> RunResult:
    return run_isolated(cmd, ws, Limits(**limits), env=env)  # type: ignore[arg-type]


def token() -> str:
    return uuid.uuid4().hex[:12]


def _live_pids(proc_file: str, matches: Callable[[bytes], bool]) -> list[int]:
    """Host-side scan of /proc: live (non-zombie) processes, other than this one, whose
    /proc/PID/<proc_file> satisfies `matches`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/{proc_file}", "rb") as f:
                data = f.read()
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if matches(data) and state != b"Z":
            found.append(int(name))
    return found


def procs_with(marker: str) -> list[int]:
    """Processes whose command line contains marker."""
    return _live_pids("cmdline", lambda cmd: marker.encode() in cmd)


def procs_with_env(tok: str) -> list[int]:
    """Live processes whose environment carries CASEBANK_TEST_TOKEN=tok (children inherit it).
    Only our own run's processes match, so this is safe on a machine running other sandboxes."""
    needle = f"CASEBANK_TEST_TOKEN={tok}".encode()
    return _live_pids("environ", lambda env: needle in env.split(b"\0"))


def tagged(tok: str) -> dict[str, str]:
    return {"CASEBANK_TEST_TOKEN": tok}


def sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------
# basics: the sandbox works, is fast, deterministic, reports itself
# ------------------------------------------------------------------------------------------

def test_mechanisms_reported(auto: str) -> None:
    m = mechanisms()
    assert m["rlimits"] and m["env_scrub"] and m["output_cap"]
    if iso._bwrap_works():  # auto mode must use bwrap whenever it works
        assert m["bwrap"] and m["netns"] and m["pidns"] and m["mount_ns"], m
    if os.environ.get("CASEBANK_REQUIRE_BWRAP") == "1":  # set in CI, where bubblewrap is installed
        assert m["bwrap"], iso._bwrap_probe().error


def test_namespace_creation_denied(bwrap_only: None, ws: Path) -> None:
    if not mechanisms()["seccomp"]:
        pytest.skip("seccomp filter not active here")
    r = run("unshare -U -r id; unshare -m true && echo UNSHARED; "
            "perl -e 'require \"syscall.ph\"; print \"ok\\n\"' 2>/dev/null; echo end", ws)
    assert "uid=0" not in r.output and "UNSHARED" not in r.output
    assert "Operation not permitted" in r.output


def test_basic_run_and_exit_code(mode: str, ws: Path) -> None:
    r = run("cat hello.txt; echo err >&2; exit 3", ws)
    assert r.exit_code == 3 and not r.timed_out and not r.truncated
    assert r.output == "hello\nerr\n"


def test_workspace_path_is_virtual(mode: str, ws: Path) -> None:
    r = run('pwd; echo "$HOME"; python -c "import os; print(os.getcwd())" 2>/dev/null || pwd', ws)
    assert str(ws) not in r.output and os.path.realpath(ws) not in r.output
    assert r.output.splitlines()[0] == "/workspace"


def test_python_and_pytest_available(auto: str, ws: Path) -> None:
    (ws / "test_x.py").write_text("def test_ok():\n    assert 1 + 1 == 2\n")
    # (plugin autoload off: the venv's heavy pytest plugins take many seconds to import)
    r = run("python -m pytest -q -p no:cacheprovider test_x.py", ws,
            env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}, wall_timeout_s=60)
    assert r.exit_code == 0, r.output
    assert "1 passed" in r.output


def test_trivial_command_is_fast(mode: str, ws: Path) -> None:
    run("true", ws)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        assert run("true", ws).exit_code == 0
        times.append(time.perf_counter() - t)
    assert min(times) < 0.5, times  # typically ~0.02 s; lenient because CI machines are shared


def test_deterministic_across_fresh_workspaces(auto: str, tmp_path: Path) -> None:
    cmd = ("ls -la | sed 1d | awk '{print $1, $3, $4, $5, $NF}'; id -un; hostname; echo $$; "
           "python -c 'import os, sys, tempfile; print(hash(\"x\"), sorted(os.environ), tempfile.gettempdir())'")
    outs = []
    for i in range(2):
        w = tmp_path / f"w{i}"
        w.mkdir()
        (w / "a.txt").write_text("a\n")
        outs.append(run(cmd, w).output)
    assert outs[0] == outs[1]


# ------------------------------------------------------------------------------------------
# path attacks through resolve_in_workspace
# ------------------------------------------------------------------------------------------

def test_path_traversal_rejected(ws: Path) -> None:
    for rel in ["../../etc/passwd", "../ws/../../x", "/etc/passwd", "/root/.bashrc", "/workspace/../../etc"]:
        with pytest.raises(PathEscapeError):
            resolve_in_workspace(ws, rel)


def test_symlink_made_by_command_refused(mode: str, ws: Path) -> None:
    r = run("ln -s /etc/shadow x && ln -s / r && ln -s .. up && echo made", ws)
    assert "made" in r.output
    for rel in ["x", "r/etc/passwd", "up/ws/hello.txt", "/workspace/r/root"]:
        with pytest.raises(PathEscapeError):
            resolve_in_workspace(ws, rel)


def test_hardlink_to_outside_file_impossible(mode: str, ws: Path) -> None:
    r = run(f"ln /etc/passwd h1; ln {sys.executable} h2; ln /usr/bin/bash h3; ls", ws)
    for name in ("h1", "h2", "h3"):
        p = ws / name
        if p.exists():  # a link could only succeed to a file the uid owns; never to a host file
            assert os.stat(p).st_ino != os.stat("/etc/passwd").st_ino
            assert os.stat(p).st_ino != os.stat("/usr/bin/bash").st_ino
            with pytest.raises(PathEscapeError):
                resolve_in_workspace(ws, name)
    assert not (ws / "h1").exists() and not (ws / "h3").exists(), r.output


def test_nul_and_long_paths(mode: str, ws: Path) -> None:
    with pytest.raises(PathEscapeError):
        resolve_in_workspace(ws, "a\x00/../../etc/passwd")
    with pytest.raises(PathEscapeError):
        resolve_in_workspace(ws, "a/" * 3000)
    with pytest.raises(ValueError):
        run("echo a\x00b", ws)
    # the command builds a directory chain deeper than PATH_MAX: the run still returns, the
    # next one still works, and the tree can be removed
    n = "d" * 250
    r = run(f"for i in $(seq 24); do mkdir {n} && cd {n} || break; done; echo built; pwd | wc -c", ws,
            wall_timeout_s=20)
    assert "built" in r.output and int(r.output.split()[-1]) > 4096
    assert run("echo again", ws).output == "again\n"


def test_unicode_tricks_stay_inside(ws: Path) -> None:
    for rel in ["\uff0e\uff0e/\uff0e\uff0e/etc/passwd", "..\u2215..\u2215etc", "\u2024\u2024/x"]:
        p = resolve_in_workspace(ws, rel)
        assert str(p).startswith(os.path.realpath(ws) + "/")
    for rel in ["\u202e../../", "/workspace\u2215..", "x\u200d/../../..", "\udcff"]:
        with pytest.raises(PathEscapeError):
            resolve_in_workspace(ws, rel)


# ------------------------------------------------------------------------------------------
# reading the host
# ------------------------------------------------------------------------------------------

def test_project_tree_and_root_invisible(bwrap_only: None, ws: Path) -> None:
    me = Path(__file__).resolve()
    r = run(f"cat {me}; cat {REPO}/pyproject.toml; ls -A /root; ls -A {REPO}; cat /etc/shadow; "
            "ls /home /var /opt 2>&1 | head -3", ws)
    assert "def test_project_tree_and_root_invisible" not in r.output
    assert "[project]" not in r.output
    listing = r.output
    assert ".git" not in listing and "casebank" not in listing.replace("/workspace", "")
    assert "No such file or directory" in r.output


def test_host_secret_file_unreadable(mode: str, ws: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-" + token())
    secret.chmod(0o600)
    r = run(f"cat {secret}; cat /proc/{os.getpid()}/cwd/secret.txt", ws)
    assert "TOPSECRET" not in r.output


def test_env_secrets_not_visible(mode: str, ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-" + token())
    monkeypatch.setenv("HF_TOKEN", "hf_fake_" + token())
    r = run("env; cat /proc/self/environ; cat /proc/$PPID/environ; cat /proc/1/environ; "
            f"cat /proc/{os.getpid()}/environ; cat /proc/{os.getppid()}/environ", ws)
    assert "sk-fake-" not in r.output and "hf_fake_" not in r.output
    assert "OPENAI_API_KEY" not in r.output and "HF_TOKEN" not in r.output


def test_env_is_minimal_and_path_has_venv_first(mode: str, ws: Path) -> None:
    r = run("env", ws, env={"EXTRA": "1"})
    env = dict(line.split("=", 1) for line in r.output.splitlines() if "=" in line)
    assert env["PATH"].split(":")[0] == str(VENV_BIN)
    assert env["PATH"].split(":")[1:] == ["/usr/bin", "/bin"]
    assert env["LANG"] == "C.UTF-8" and env["PYTHONHASHSEED"] == "0" and env["EXTRA"] == "1"
    assert set(env) <= {"PATH", "HOME", "LANG", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED", "EXTRA", "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
                        "USER", "LOGNAME", "PWD", "SHLVL", "_"}


# ------------------------------------------------------------------------------------------
# writing the host
# ------------------------------------------------------------------------------------------

def test_write_host_tmp_blocked(bwrap_only: None, ws: Path) -> None:
    name = f"/tmp/casebank-escape-{token()}"
    r = run(f"echo pwned > {name} && cat {name}", ws)
    assert not os.path.exists(name)
    assert r.output == "pwned\n"  # it wrote to the sandbox's private tmpfs, which is gone now


def test_write_project_tree_and_venv_blocked(mode: str, ws: Path) -> None:
    t = token()
    targets = [REPO / f"escape-{t}", REPO / "casebank" / f"escape-{t}.py", VENV_BIN / f"evil-{t}",
               Path(sys.prefix) / f"evil-{t}.pth", Path(os.path.realpath(sys.executable)).parent / f"evil-{t}"]
    cmd = "; ".join(f"echo x > {p}" for p in targets)
    cmd += f"; echo 'import os' >> {VENV_BIN}/activate; chmod 777 {os.path.realpath(sys.executable)}"
    before = sha(str(VENV_BIN / "activate"))
    mode_before = os.stat(os.path.realpath(sys.executable)).st_mode
    run(cmd, ws)
    for p in targets:
        assert not p.exists(), p
    assert sha(str(VENV_BIN / "activate")) == before
    assert os.stat(os.path.realpath(sys.executable)).st_mode == mode_before


def test_modify_etc_hosts_blocked(mode: str, ws: Path) -> None:
    before = sha("/etc/hosts")
    r = run("echo '6.6.6.6 pypi.org' >> /etc/hosts; echo '6.6.6.6 x' > /etc/hosts; "
            "cp /bin/sh /etc/evil; rm -f /etc/passwd; mv /etc/hosts /etc/h2", ws)
    assert sha("/etc/hosts") == before
    assert not os.path.exists("/etc/evil") and os.path.exists("/etc/passwd")
    assert r.exit_code != 0


def test_destructive_rm_rf_root(bwrap_only: None, ws: Path) -> None:
    # Guard: prove first that everything outside the workspace is read-only and we are not root.
    venv_py = os.path.realpath(sys.executable)
    probe = run(
        "id -u; for d in / /usr /usr/bin /etc /bin /lib "
        f"{VENV_BIN} {Path(venv_py).parent} {sys.prefix}; do "
        "touch $d/.casebank-probe 2>/dev/null && echo WRITABLE:$d; "
        "rmdir $d/definitely-not-existing-xyz 2>&1 | grep -q 'Read-only' || echo NOT-RO:$d; done; "
        "grep -c ' / .*ro,' /proc/self/mountinfo; echo done", ws)
    lines = probe.output.splitlines()
    assert lines[0] != "0" and "WRITABLE" not in probe.output, probe.output
    if "NOT-RO" in probe.output or lines[-1] != "done":
        pytest.fail(f"read-only view not verified; refusing the destructive test: {probe.output}")
    r = run("cd /; rm -rf --no-preserve-root / 2>/dev/null; echo survived; ls /usr/bin | wc -l", ws,
            wall_timeout_s=60)
    assert "survived" in r.output
    assert os.path.exists("/usr/bin/bash") and os.path.exists(venv_py) and (REPO / "pyproject.toml").exists()
    assert run("echo alive", ws).output == "alive\n"  # the sandbox itself still works


def test_chmod_chown_games(mode: str, ws: Path) -> None:
    r = run("cp /bin/sh ./suid && chmod 4755 ./suid && chmod g+s ./suid; ls -l suid; "
            "chown 0:0 hello.txt; chown root hello.txt; chmod 777 /tmp/.. /usr/bin; "
            "chmod 000 /usr/bin/env", ws)
    st = os.stat(ws / "suid")
    assert not st.st_mode & (stat.S_ISUID | stat.S_ISGID)
    assert os.stat("/usr/bin").st_mode & 0o777 == 0o755
    assert os.access("/usr/bin/env", os.X_OK)
    if IS_ROOT:  # after the run, the workspace belongs to the caller again
        assert st.st_uid == os.geteuid() and os.stat(ws / "hello.txt").st_uid == os.geteuid()
    assert r.exit_code is not None


def test_workspace_writable_and_files_reusable(mode: str, ws: Path) -> None:
    (ws / "sub").mkdir()
    (ws / "sub" / "f.txt").write_text("host-written\n")
    (ws / "sub").chmod(0o700)
    r = run("echo more >> sub/f.txt && mkdir -p d/e && echo hi > d/e/g && cat sub/f.txt", ws)
    assert r.exit_code == 0, r.output
    assert (ws / "sub" / "f.txt").read_text() == "host-written\nmore\n"
    r2 = run("rm -rf d && echo ok", ws)  # next command (maybe another uid) can still modify
    assert r2.output == "ok\n" and not (ws / "d").exists()


# ------------------------------------------------------------------------------------------
# resources
# ------------------------------------------------------------------------------------------

def test_fork_bomb_bounded(mode: str, ws: Path) -> None:
    if not mechanisms()["nproc_limit"]:
        pytest.skip("no process cap available here")
    tok = token()
    t = time.monotonic()
    # the bomb keeps running for 3 s under the process cap, then the shell exits. On a loaded machine the cap
    # can also refuse the outer shell's own fork (for `sleep`), and bash exits there: still bounded, the cap
    # said so in the output ("fork: retry: Resource temporarily unavailable").
    r = run(":(){ :|:& };:; sleep 3; echo survived", ws, env=tagged(tok), wall_timeout_s=8)
    assert time.monotonic() - t < 20
    assert "survived" in r.output or r.timed_out or "fork: retry: Resource temporarily unavailable" in r.output, r.output
    time.sleep(0.2)
    assert procs_with_env(tok) == []
    assert subprocess.run(["true"]).returncode == 0  # the host can still fork
    assert run("echo fine", ws).output == "fine\n"


def test_process_cap_enforced(mode: str, ws: Path) -> None:
    if not mechanisms()["nproc_limit"]:
        pytest.skip("no process cap available here")
    r = run("for i in $(seq 40); do sleep 2 & done; wait; echo done", ws, max_processes=10,
            wall_timeout_s=15)
    assert "Resource temporarily unavailable" in r.output or "fork" in r.output


def test_memory_hog_killed(mode: str, ws: Path) -> None:
    if mode == "basic":  # python may live in a root-only dir; perl is always there
        cmd = "perl -e '$x = \"a\" x (4 * 1024**3); print \"allocated\\n\"'"
    else:
        cmd = "python -c 'x = bytearray(4 << 30); print(\"allocated\")'"
    t = time.monotonic()
    r = run(cmd, ws, wall_timeout_s=20)
    assert "allocated" not in r.output
    assert r.exit_code not in (0, None)
    assert time.monotonic() - t < 15


def test_memory_creep_killed(auto: str, ws: Path) -> None:
    r = run("python -c 'l=[]\nwhile True: l.append(bytearray(64 << 20))'", ws, wall_timeout_s=20,
            memory_bytes=512 << 20)
    assert r.exit_code not in (0, None) and "MemoryError" in r.output


def test_infinite_loop_wall_timeout(mode: str, ws: Path) -> None:
    tok = token()
    t = time.monotonic()
    r = run("echo start; (while :; do :; done) & while :; do :; done", ws, env=tagged(tok),
            wall_timeout_s=1.5)
    took = time.monotonic() - t
    assert r.timed_out and r.exit_code is None
    assert r.output.startswith("start")
    assert 1.4 < took < 6
    assert procs_with_env(tok) == []


def test_sleep_wall_timeout_kills_everything(mode: str, ws: Path) -> None:
    m = f"{300 + int(token()[:6], 16) % 1000}.{int(token()[:6], 16)}"
    r = run(f"sleep {m} & sleep {m}", ws, wall_timeout_s=1)
    assert r.timed_out
    time.sleep(0.1)
    assert procs_with(f"sleep\x00{m}") == []


def test_cpu_limit(mode: str, ws: Path) -> None:
    t = time.monotonic()
    r = run("while :; do :; done", ws, cpu_time_s=1, wall_timeout_s=20)
    assert not r.timed_out and r.exit_code in (128 + signal.SIGXCPU, 128 + signal.SIGKILL), r
    assert time.monotonic() - t < 10


def test_huge_output_truncated_memory_bounded(mode: str, ws: Path) -> None:
    tracemalloc.start()
    try:
        r = run("head -c 100000000 /dev/zero | tr '\\0' a; echo; echo THE-END", ws, wall_timeout_s=60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.truncated and r.exit_code == 0
    assert "[... output truncated: " in r.output and " bytes omitted ...]" in r.output
    assert r.output.rstrip().endswith("THE-END")  # the tail is kept
    assert len(r.output.encode()) < 16_000 + 200
    omitted = int(r.output.split("[... output truncated: ")[1].split(" ")[0])
    assert omitted + 16_000 == 100_000_000 + len("\nTHE-END\n")
    assert peak < 8 << 20, peak


def test_output_marker_small_cap(mode: str, ws: Path) -> None:
    r = run("seq 1 1000", ws, max_output_bytes=100)
    assert r.truncated and r.output.startswith("1\n2\n") and r.output.endswith("1000\n")
    assert "\n[... output truncated: " in r.output


def test_huge_file_limited(mode: str, ws: Path) -> None:
    r = run("dd if=/dev/zero of=big bs=1M count=100 2>&1; echo rc=$?", ws)
    assert (ws / "big").stat().st_size <= Limits().max_file_bytes
    assert "rc=0" not in r.output


_FILL_FILES = 40  # x 8 MB = 320 MB, more than the 256 MB tmpfs cap


def _fill_tmp_mb(ws: Path) -> int:
    """MB that a command manages to write into /tmp. It writes into a fresh folder of its own and measures only
    that folder, so a venv or a clone that the sandbox binds under /tmp (a checkout at /tmp/fresh) is not counted."""
    r = run(f"d=$(mktemp -d /tmp/fill.XXXXXX) && for i in $(seq {_FILL_FILES}); do "
            "head -c 8000000 /dev/zero > \"$d/f$i\" || break; done; du -smc \"$d\" | tail -n 1 | cut -f1",
            ws, wall_timeout_s=30)
    return int(r.output.split()[-1])


def test_tmpfs_fill_bounded(bwrap_only: None, ws: Path) -> None:
    assert _fill_tmp_mb(ws) <= iso.TMPFS_BYTES >> 20


def test_tmpfs_fill_measure_sees_an_uncapped_tmp(bwrap_only: None, ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The measurement above can fail: with the cap lifted, the same command writes all of its 320 MB."""
    monkeypatch.setattr(iso, "TMPFS_BYTES", 2 << 30)
    assert _fill_tmp_mb(ws) > 256


# ------------------------------------------------------------------------------------------
# processes and signals
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "escape",
    [
        "sleep {m} &",
        "nohup sleep {m} >/dev/null 2>&1 &",
        "setsid sleep {m} >/dev/null 2>&1 < /dev/null &",
        "(setsid sh -c 'sleep {m}' >/dev/null 2>&1 &) ; sleep 0.1",
        # double fork + setsid (perl: reachable by the throw-away uid in every mode, unlike a python under /root)
        "perl -e 'use POSIX; fork and exit; POSIX::setsid(); fork and exit; exec \"sleep\", \"{m}\"'; sleep 0.1",
        "sh -c 'trap \"\" HUP TERM; exec sleep {m}' >/dev/null 2>&1 &",
    ],
)
def test_background_processes_do_not_survive(mode: str, ws: Path, escape: str) -> None:
    if mode == "basic" and not mechanisms()["kill_all_descendants"]:
        pytest.skip("basic mode without a throw-away uid cannot catch setsid escapes")
    m = f"{400 + int(token()[:6], 16) % 1000}.{int(token()[:6], 16) % 99991}"
    tok = token()
    r = run(escape.format(m=m) + "\necho returned", ws, env=tagged(tok), wall_timeout_s=10)
    assert "returned" in r.output and not r.timed_out, r.output
    time.sleep(0.1)
    assert procs_with(f"sleep\x00{m}") == []
    assert procs_with_env(tok) == []


def test_signals_to_parent_and_caller_harmless(mode: str, ws: Path) -> None:
    bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        env = {"CALLER_PID": str(os.getpid()), "BYSTANDER": str(bystander.pid)}
        r = run("kill -9 $PPID; kill -9 $CALLER_PID; kill -STOP $CALLER_PID; kill -9 $BYSTANDER; "
                "kill -9 1; kill -9 -1; echo after", ws, env=env)
        assert bystander.poll() is None, "a host process was killed"
        assert r.exit_code is not None
        assert run("echo still-working", ws).output == "still-working\n"
    finally:
        bystander.kill()
        bystander.wait()


def test_pid_namespace_hides_host(bwrap_only: None, ws: Path) -> None:
    r = run(f"ls /proc | grep -c '^[0-9]'; test -e /proc/{os.getpid()}/cmdline && echo SEEN", ws)
    assert "SEEN" not in r.output
    assert int(r.output.splitlines()[0]) < 10


def test_proc_1_environ(mode: str, ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proc-" + token())
    r = run("cat /proc/1/environ /proc/1/cmdline /proc/$PPID/environ 2>&1; "
            "for p in /proc/[0-9]*; do cat $p/environ 2>/dev/null; done | tr '\\0' '\\n'", ws)
    assert "sk-proc-" not in r.output


# ------------------------------------------------------------------------------------------
# network and devices
# ------------------------------------------------------------------------------------------

def test_network_blocked(mode: str, ws: Path) -> None:
    if not mechanisms()["netns"]:
        pytest.skip("no network namespace available here")
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))  # loopback only
    srv.listen(1)
    srv.settimeout(0.3)
    port = srv.getsockname()[1]
    try:
        probe = ("exec 3<>/dev/tcp/127.0.0.1/{p} && echo CONNECTED; "
                 "exec 4<>/dev/tcp/1.1.1.1/53 && echo OUT; "
                 "exec 5<>/dev/tcp/pypi.org/443 && echo DNS").format(p=port)
        r = run(probe, ws, wall_timeout_s=10)
        assert "CONNECTED" not in r.output and "OUT" not in r.output and "DNS" not in r.output
        with pytest.raises((TimeoutError, socket.timeout)):
            srv.accept()
        if mode == "auto":
            r = run(f"python -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)\"",
                    ws, wall_timeout_s=10)
            assert r.exit_code != 0 and ("refused" in r.output or "unreachable" in r.output), r.output
    finally:
        srv.close()


def test_dev_access(bwrap_only: None, ws: Path) -> None:
    r = run("ls /dev; cat /dev/vda 2>&1 | head -c 100; echo x > /dev/kmsg; ls /sys 2>&1; "
            "head -c 4 /dev/urandom | wc -c; echo ok > /dev/null && echo null-ok", ws)
    listing = r.output.split("\n")
    assert "vda" not in listing and "kmsg" not in listing and "kvm" not in listing
    assert "4" in listing and "null-ok" in listing


def test_mount_and_namespace_tricks(mode: str, ws: Path) -> None:
    r = run("mkdir -p m; mount -t tmpfs none m && echo MOUNTED; mount --bind / m && echo BOUND; "
            "chroot / true && echo CHROOT; nsenter -t 1 -m true && echo NSENTER; "
            "su -c true && echo SU; sudo true && echo SUDO", ws)
    for bad in ("MOUNTED", "BOUND", "CHROOT", "NSENTER", "SU\n", "SUDO"):
        assert bad not in r.output, r.output


def test_forced_modes(monkeypatch: pytest.MonkeyPatch, ws: Path) -> None:
    monkeypatch.setenv(iso.MODE_ENV, "nonsense")
    with pytest.raises(iso.SandboxUnavailable):
        run("true", ws)
    monkeypatch.setenv(iso.MODE_ENV, "basic")
    assert mechanisms()["bwrap"] is False
    assert run("echo b", ws).output == "b\n"


def test_a_python_under_tmp_stays_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkout under /tmp (CI clones often are) must keep its venv bound over the fresh /tmp."""
    fake = "/tmp/some-ci-clone/.venv"
    monkeypatch.setattr(iso, "_python_dirs", lambda: [fake])
    fds: list[int] = []
    try:
        argv = iso._bwrap_argv(0, iso.Limits(), None, fds, seccomp=False)
    except iso.SandboxUnavailable:
        pytest.fail("bwrap is required for this check")
    finally:
        for fd in fds:
            os.close(fd)
    tmpfs_at = next(i for i in range(len(argv) - 1) if argv[i] == "--tmpfs" and argv[i + 1] == "/tmp")
    bind_at = next(i for i in range(len(argv) - 2) if argv[i] == "--ro-bind" and argv[i + 1] == fake)
    assert tmpfs_at < bind_at
