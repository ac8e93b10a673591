"""What the CPU can do, and the dtype casebank picks from it: one rule for serving, conversion and fine-tuning.

bfloat16 where `/proc/cpuinfo` shows `avx512_bf16` or `amx_bf16` (the units that make bf16 matmuls fast on
CPU), float32 otherwise. An explicit dtype (`--dtype`, a preset's `dtype`) always wins. The choice and the flags
it was made from go into what each run records (server.jsonl, the adapter manifest, bench.json), so a figure
says what it ran on.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

__all__ = ["BF16_CPU_FLAGS", "Dtype", "cpu_dtype", "cpu_flags", "dtype_record"]

Dtype = Literal["float32", "bfloat16"]
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
SHOWN_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_int8")
CPUINFO = Path("/proc/cpuinfo")


def cpu_flags(cpuinfo: Path | str | None = None) -> set[str]:
    """The first CPU's feature flags (empty where the file has none, e.g. not Linux); default file: CPUINFO."""
    try:
        text = Path(cpuinfo or CPUINFO).read_text(errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def cpu_dtype(flags: Iterable[str] | None = None) -> Dtype:
    """bfloat16 when the CPU has bf16 units (BF16_CPU_FLAGS), else float32."""
    found = set(cpu_flags() if flags is None else flags)
    return "bfloat16" if found & set(BF16_CPU_FLAGS) else "float32"


def dtype_record(dtype: str, flags: Iterable[str] | None = None, *, chosen: bool) -> dict[str, object]:
    """What a run records about its dtype: the value, whether the machine chose it, and the flags seen."""
    found = set(cpu_flags() if flags is None else flags)
    return {"dtype": dtype, "dtype_source": "cpu flags" if chosen else "given", "cpu_flags": sorted(found & set(SHOWN_FLAGS))}
